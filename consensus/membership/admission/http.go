package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/fsenet/fsenet/consensus/membership"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/node/httpapi"
)

// may asks the access policy whether the request's caller may do act;
// a refusal is answered.
func (m *Module) may(w http.ResponseWriter, r *http.Request, act index.Action, t index.Target) bool {
	c, ok := m.d.Caller(r)
	d := index.Hide
	if ok {
		d = index.Authorize(c, act, t)
	}
	if err := d.Err("resource"); err != nil {
		httpapi.Fail(w, r, err)
		return false
	}
	return true
}

// readBody reads a request body of at most max bytes.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpapi.Fail(w, r, httpapi.E(httpapi.ErrTooLarge, fmt.Sprintf("the body exceeds %d bytes", max)))
		} else {
			httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, "could not read the body"))
		}
		return nil, false
	}
	return b, true
}

// ClusterStatus is the answer of GET /v1/cluster.
type ClusterStatus struct {
	Region       string          `json:"region"`
	Leader       string          `json:"leader"`
	Term         uint64          `json:"term"`
	CommitIndex  uint64          `json:"commit_index"`
	AppliedIndex uint64          `json:"applied_index"`
	DigestIndex  uint64          `json:"digest_index"`
	Agree        bool            `json:"agree"`
	Regions      []ClusterRegion `json:"regions"`
}

// ClusterRegion is one region in GET /v1/cluster: its certificate, its
// place in Raft and, when it answered, its state digest.
type ClusterRegion struct {
	Code         string    `json:"code"`
	Name         string    `json:"name"`
	Peer         string    `json:"peer"`
	Role         string    `json:"role"` // as certified
	Raft         string    `json:"raft"` // voter, nonvoter, or "" when not in the configuration
	Leader       bool      `json:"leader"`
	State        string    `json:"state,omitempty"`
	Term         uint64    `json:"term,omitempty"`
	CommitIndex  uint64    `json:"commit_index,omitempty"`
	AppliedIndex uint64    `json:"applied_index,omitempty"`
	Digest       string    `json:"digest,omitempty"`
	Error        string    `json:"error,omitempty"`
	CertExpiry   time.Time `json:"cert_expiry,omitzero"`
	Version      string    `json:"version,omitempty"` // the region's node's build, as it reports it
}

// handleCluster describes the federation as this node sees it, and asks
// every region for its state digest at this node's applied index.
func (m *Module) handleCluster(w http.ResponseWriter, r *http.Request) {
	if !m.may(w, r, index.ActClusterStatus, index.Target{Region: m.cfg.Region}) {
		return
	}
	st := m.d.Replica.Status()
	out := ClusterStatus{Region: m.cfg.Region, Leader: st.LeaderID, Term: st.Term, CommitIndex: st.CommitIndex, AppliedIndex: st.AppliedIndex, DigestIndex: st.AppliedIndex}
	v := m.members.View()
	rows := map[string]*ClusterRegion{}
	for _, reg := range v.Regions {
		rows[reg.Code] = &ClusterRegion{Code: reg.Code, Name: reg.Name, Peer: reg.Peer.String(), Role: string(reg.Role), CertExpiry: reg.Expiry}
	}
	if servers, err := m.d.Replica.Servers(); err == nil {
		for _, s := range servers {
			row, ok := rows[s.ID]
			if !ok {
				row = &ClusterRegion{Code: s.ID, Name: federation.RegionNames[s.ID], Peer: s.Peer.String()}
				rows[s.ID] = row
			}
			row.Raft = "nonvoter"
			if s.Voter {
				row.Raft = "voter"
			}
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, row := range rows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ps peerStatus
			var err error
			if row.Code == m.cfg.Region {
				ps = m.localStatus(ctx, out.DigestIndex)
			} else if p, perr := peerID(row.Peer); perr != nil {
				err = perr
			} else {
				ps, err = m.peerStatus(ctx, p, out.DigestIndex)
			}
			if err != nil {
				row.Error = "unreachable: " + err.Error()
				return
			}
			row.State, row.Term, row.CommitIndex, row.AppliedIndex, row.Digest = ps.State, ps.Term, ps.CommitIndex, ps.AppliedIndex, ps.Digest
			row.Version = ps.Version
			row.Error = ps.DigestError
		}()
	}
	wg.Wait()
	out.Agree = len(rows) > 0
	first := ""
	for _, code := range sortedKeys(rows) {
		row := rows[code]
		row.Leader = code == st.LeaderID
		if row.Digest == "" || row.Error != "" {
			out.Agree = false
		} else if first == "" {
			first = row.Digest
		} else if row.Digest != first {
			out.Agree = false
		}
		out.Regions = append(out.Regions, *row)
	}
	httpapi.JSON(w, http.StatusOK, out)
}

// handleJoin admits a node that presents the authority's certificate for
// its peer ID and proves, with a signature, that it holds that peer's key.
func (m *Module) handleJoin(w http.ResponseWriter, r *http.Request) {
	b, ok := readBody(w, r, 64<<10)
	if !ok {
		return
	}
	var req JoinRequest
	if err := json.Unmarshal(b, &req); err != nil || req.Certificate == "" || req.Signature == "" {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, "want a JSON join request with certificate, at and signature"))
		return
	}
	auth := m.members.Authority()
	if auth == nil {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrUnavailable, "this node does not know the federation's state yet"))
		return
	}
	now := time.Now()
	cert, err := federation.VerifyCertificate(req.Certificate, auth, now)
	if err != nil {
		m.log.Info("refused join", "remote", r.RemoteAddr, "reason", err.Error())
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrForbidden, "the certificate is not valid for this federation"))
		return
	}
	if d := now.Sub(req.At); d > maxJoinSkew || d < -maxJoinSkew {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, "the join request's time is more than 5 minutes off this node's clock"))
		return
	}
	sig, err := decodeBase64(req.Signature)
	pub, perr := cert.Peer.ExtractPublicKey()
	if err != nil || perr != nil {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrForbidden, "the join request is not signed by the certified node"))
		return
	}
	if ok, err := pub.Verify(JoinMessage(req.Certificate, req.At), sig); err != nil || !ok {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrForbidden, "the join request is not signed by the certified node"))
		return
	}
	if rv, revoked := m.d.Revocations.Has(cert.Peer); revoked {
		// The node proved it holds the revoked key: it is told why, with
		// the authority's signed revocation, so it stops asking.
		m.log.Info("refused join of a revoked peer", "code", cert.Region, "peer", cert.Peer)
		w.Header().Set(revocationHeader, rv.Token)
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrForbidden, "the national authority revoked this node's membership"))
		return
	}
	region, err := m.putCertificate(r.Context(), req.Certificate, cert)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	resp := JoinResponse{Region: region}
	for _, reg := range m.members.View().Regions {
		resp.Members = append(resp.Members, reg.Certificate)
	}
	m.log.Info("region admitted", "code", cert.Region, "peer", cert.Peer, "role", cert.Role, "certificate", cert.ID)
	httpapi.JSON(w, http.StatusOK, resp)
}

// putCertificate records a verified certificate unless it is already the
// region's current one.
func (m *Module) putCertificate(ctx context.Context, token string, c federation.Certificate) (membership.Region, error) {
	if err := m.refuseRevoked(c.Peer); err != nil {
		return membership.Region{}, httpapi.Wrap(httpapi.ErrForbidden, "the national authority revoked this peer's membership: certify a new node key", err)
	}
	if cur, ok := m.members.View().Region(c.Region); ok && cur.CertID == c.ID {
		return cur, nil
	}
	cmd, err := membership.PutRegion(time.Now(), token)
	if err != nil {
		return membership.Region{}, err
	}
	cmd.Key = attemptKey("cert-" + c.ID)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := m.d.Replica.Apply(ctx, cmd)
	if err != nil {
		return membership.Region{}, err
	}
	var rs []membership.Region
	if err := json.Unmarshal(res.Value, &rs); err != nil || len(rs) == 0 {
		// A duplicate answer carries no value; the record is the certificate's.
		return membership.Region{Code: c.Region, Name: c.Name, Peer: c.Peer, Addrs: c.Addrs, Role: membership.Role(c.Role), CertID: c.ID, IssuedAt: c.IssuedAt, Expiry: c.Expiry}, nil
	}
	return rs[0], nil
}

// regionView is a region record without its certificate token.
type regionView struct {
	Code   string    `json:"code"`
	Name   string    `json:"name"`
	Peer   string    `json:"peer"`
	Role   string    `json:"role"`
	Addrs  []string  `json:"addrs"`
	Expiry time.Time `json:"expiry"`
}

// handlePutRegion records a certificate submitted by the authority: a new
// region, or a renewed, promoted or demoted one.
func (m *Module) handlePutRegion(w http.ResponseWriter, r *http.Request) {
	if !m.may(w, r, index.ActCertify, index.Target{}) {
		return
	}
	b, ok := readBody(w, r, 16<<10)
	if !ok {
		return
	}
	tok := strings.TrimSpace(string(b))
	auth := m.members.Authority()
	cert, err := federation.VerifyCertificate(tok, auth, time.Now())
	if err != nil {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, "not a valid membership certificate of this federation's authority"))
		return
	}
	reg, err := m.putCertificate(r.Context(), tok, cert)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	m.log.Info("certificate recorded", "code", reg.Code, "peer", reg.Peer, "role", reg.Role)
	httpapi.JSON(w, http.StatusOK, regionView{Code: reg.Code, Name: reg.Name, Peer: reg.Peer.String(), Role: string(reg.Role), Addrs: reg.Addrs, Expiry: reg.Expiry})
}

// handleRevoke applies an authority-signed revocation.
func (m *Module) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if !m.may(w, r, index.ActRevoke, index.Target{}) {
		return
	}
	b, ok := readBody(w, r, 16<<10)
	if !ok {
		return
	}
	tok := strings.TrimSpace(string(b))
	if _, err := federation.VerifyRevocation(tok, m.members.Authority()); err != nil {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, "not a valid revocation of this federation's authority"))
		return
	}
	// Kept first, outside the state: the revocation holds on this node
	// even if the state is later restored from before it.
	rv, _, err := m.d.Revocations.Add(tok)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	if rv.Peer == m.id.Peer {
		m.applyLocalRevocations()
		httpapi.JSON(w, http.StatusOK, map[string]string{"revoked": rv.Peer.String(), "region": rv.Region, "reason": rv.Reason})
		return
	}
	// The revoked node is told while it is still connected, then cut off.
	m.notifyRevoked(r.Context(), rv)
	m.applyLocalRevocations()
	cmd := membership.Revoke(tok)
	cmd.Key = attemptKey("revoke-" + rv.ID)
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	if _, err := m.d.Replica.Apply(ctx, cmd); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	m.log.Warn("region revoked", "code", rv.Region, "peer", rv.Peer, "reason", rv.Reason)
	httpapi.JSON(w, http.StatusOK, map[string]string{"revoked": rv.Peer.String(), "region": rv.Region, "reason": rv.Reason})
}
