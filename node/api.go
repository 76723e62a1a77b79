package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/membership"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/index/fhirapi"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/repository/fetch"
	"github.com/fsenet/fsenet/repository/gateway"
	"github.com/fsenet/fsenet/repository/mhd"
)

// routes is the node's HTTP API. Every request passes the authentication
// middleware (which lets the public ones through) and is counted by route
// and status.
func (n *Node) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpapi.JSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ok, why := n.Ready()
		code := http.StatusOK
		if !ok {
			code = http.StatusServiceUnavailable
		}
		httpapi.JSON(w, code, map[string]any{"ready": ok, "reason": why})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{}))
	fhirapi.New(fhirapi.Deps{
		Read: func(ctx context.Context, strong bool, fn func(index.Reader) error) (uint64, error) {
			c := consensus.Local
			if strong {
				c = consensus.Strong
			}
			return n.cons.Read(ctx, c, fn)
		},
		Apply:     n.cons.Apply,
		Audit:     n.auditor,
		Caller:    callerOf,
		Region:    n.cfg.Region,
		PublicURL: n.cfg.HTTP.PublicURL,
		Log:       n.log.With("component", "fhir"),
	}).Register(mux)
	gcfg := gateway.DefaultConfig(n.cfg.Region)
	gcfg.MaxFileBytes = int64(n.cfg.Repository.MaxDocumentMiB) << 20
	gcfg.ValidationMaxAge = time.Duration(n.cfg.Repository.ValidationMaxAge)
	gcfg.WaitCommit = time.Duration(n.cfg.Repository.WaitCommit)
	gw, err := gateway.New(gcfg, gateway.Deps{Store: n.docs, Outbox: n.outbox, Patient: n.lookupPatient, Audit: n.auditor,
		Bearer: func(r *http.Request) (federation.Claims, bool) {
			p, ok := PrincipalFrom(r.Context())
			if !ok {
				return federation.Claims{}, false
			}
			return p.Claims, true
		},
		Log: n.log.With("component", "gateway")})
	if err != nil {
		panic(fmt.Sprintf("node: gateway: %v", err)) // its configuration was validated with the node's
	}
	gw.Register(mux)
	corrupt := prometheus.NewCounter(prometheus.CounterOpts{Name: "fsenet_repository_corrupt_content_total",
		Help: "Reads (and scrubs) of this region's stored content that did not match its hash.", ConstLabels: prometheus.Labels{"region": n.cfg.Region}})
	n.reg.MustRegister(corrupt)
	n.corrupt = corrupt
	n.scrubbed = prometheus.NewGauge(prometheus.GaugeOpts{Name: "fsenet_repository_scrub_completed_timestamp_seconds",
		Help: "When the last whole scrub of this region's stored content ended (0: never).", ConstLabels: prometheus.Labels{"region": n.cfg.Region}})
	n.reg.MustRegister(n.scrubbed)
	if last, err := n.docs.LastScrub(); err == nil && !last.IsZero() {
		n.scrubbed.Set(float64(last.Unix()))
	}
	mismatch := prometheus.NewCounter(prometheus.CounterOpts{Name: "fsenet_repository_fetch_mismatch_total",
		Help: "Documents fetched from another region whose content did not match the index (refused).", ConstLabels: prometheus.Labels{"region": n.cfg.Region}})
	n.reg.MustRegister(mismatch)
	docs := mhd.New(mhd.Deps{Store: n.docs, Outbox: n.outbox, Caller: callerOf, Audit: n.auditor, Region: n.cfg.Region, PublicURL: n.cfg.HTTP.PublicURL,
		Read: func(ctx context.Context, fn func(index.Reader) error) error {
			_, err := n.cons.Read(ctx, consensus.Local, fn)
			return err
		},
		Fetch:    n.fetchDocument,
		Attempt:  n.tellAttempt,
		Corrupt:  corrupt.Inc,
		Mismatch: mismatch.Inc,
		Log:      n.log.With("component", "documents")})
	docs.Register(mux)
	fetch.Serve(fetch.ServerConfig{Host: n.host, Log: n.log.With("component", "fetch"),
		Source: docs.Source(func(tok string) (index.Caller, error) {
			c, err := n.tokens.Verify(tok)
			return index.CallerFromClaims(c), err
		})})
	mux.HandleFunc("GET /v1/cluster", n.handleCluster)
	mux.HandleFunc("GET /v1/snapshot", n.handleSnapshot)
	mux.HandleFunc("GET /v1/audit/verify", n.handleAuditVerify)
	mux.HandleFunc("GET /v1/authority/feeding", n.handleFeeding)
	mux.HandleFunc("POST /v1/federation/join", n.handleJoin)
	mux.HandleFunc("POST /v1/federation/regions", n.handlePutRegion)
	mux.HandleFunc("POST /v1/federation/revocations", n.handleRevoke)
	return httpapi.Handler(mux, httpapi.Config{Log: n.log, Metrics: n.reg, ProblemPaths: gateway.Serves, Inner: n.authenticate})
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

// clusterStatus is the answer of GET /v1/cluster.
type clusterStatus struct {
	Region       string          `json:"region"`
	Leader       string          `json:"leader"`
	Term         uint64          `json:"term"`
	CommitIndex  uint64          `json:"commit_index"`
	AppliedIndex uint64          `json:"applied_index"`
	DigestIndex  uint64          `json:"digest_index"`
	Agree        bool            `json:"agree"`
	Regions      []clusterRegion `json:"regions"`
}

type clusterRegion struct {
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
}

// handleCluster describes the federation as this node sees it, and asks
// every region for its state digest at this node's applied index.
func (n *Node) handleCluster(w http.ResponseWriter, r *http.Request) {
	if !authorize(w, r, index.ActClusterStatus, index.Target{Region: n.cfg.Region}) {
		return
	}
	st := n.cons.Status()
	out := clusterStatus{Region: n.cfg.Region, Leader: st.LeaderID, Term: st.Term, CommitIndex: st.CommitIndex, AppliedIndex: st.AppliedIndex, DigestIndex: st.AppliedIndex}
	v := n.members.View()
	rows := map[string]*clusterRegion{}
	for _, reg := range v.Regions {
		rows[reg.Code] = &clusterRegion{Code: reg.Code, Name: reg.Name, Peer: reg.Peer.String(), Role: string(reg.Role), CertExpiry: reg.Expiry}
	}
	if servers, err := n.cons.Servers(); err == nil {
		for _, s := range servers {
			row, ok := rows[s.ID]
			if !ok {
				row = &clusterRegion{Code: s.ID, Name: federation.RegionNames[s.ID], Peer: s.Peer.String()}
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
			if row.Code == n.cfg.Region {
				ps = n.localStatus(ctx, out.DigestIndex)
			} else if p, perr := peerID(row.Peer); perr != nil {
				err = perr
			} else {
				ps, err = n.peerStatus(ctx, p, out.DigestIndex)
			}
			if err != nil {
				row.Error = "unreachable: " + err.Error()
				return
			}
			row.State, row.Term, row.CommitIndex, row.AppliedIndex, row.Digest = ps.State, ps.Term, ps.CommitIndex, ps.AppliedIndex, ps.Digest
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

// handleSnapshot streams a point-in-time copy of the replicated state.
func (n *Node) handleSnapshot(w http.ResponseWriter, r *http.Request) {
	if !authorize(w, r, index.ActSnapshot, index.Target{Region: n.cfg.Region}) {
		return
	}
	p, _ := PrincipalFrom(r.Context())
	idx, err := n.cons.WriteSnapshot(w, func(index uint64) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Fsenet-Snapshot-Index", strconv.FormatUint(index, 10))
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="fsenet-%s-%d.snap"`, n.cfg.Region, index))
		w.WriteHeader(http.StatusOK)
	})
	if err != nil {
		// Headers are gone; cutting the stream short makes the client's
		// zstd reader and the trailer check fail.
		n.log.Error("snapshot stream failed", "index", idx, "err", err)
		panic(http.ErrAbortHandler)
	}
	n.log.Info("snapshot served", "index", idx, "by", p.OrganizationID, "issuer", p.Issuer)
}

// handleJoin admits a node that presents the authority's certificate for
// its peer ID and proves, with a signature, that it holds that peer's key.
func (n *Node) handleJoin(w http.ResponseWriter, r *http.Request) {
	b, ok := readBody(w, r, 64<<10)
	if !ok {
		return
	}
	var req joinRequest
	if err := json.Unmarshal(b, &req); err != nil || req.Certificate == "" || req.Signature == "" {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, "want a JSON join request with certificate, at and signature"))
		return
	}
	auth := n.members.Authority()
	if auth == nil {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrUnavailable, "this node does not know the federation's state yet"))
		return
	}
	now := time.Now()
	cert, err := federation.VerifyCertificate(req.Certificate, auth, now)
	if err != nil {
		n.log.Info("refused join", "remote", r.RemoteAddr, "reason", err.Error())
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
	if ok, err := pub.Verify(joinMessage(req.Certificate, req.At), sig); err != nil || !ok {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrForbidden, "the join request is not signed by the certified node"))
		return
	}
	region, err := n.putCertificate(r.Context(), req.Certificate, cert)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	resp := joinResponse{Region: region}
	for _, reg := range n.members.View().Regions {
		resp.Members = append(resp.Members, reg.Certificate)
	}
	n.log.Info("region admitted", "code", cert.Region, "peer", cert.Peer, "role", cert.Role, "certificate", cert.ID)
	httpapi.JSON(w, http.StatusOK, resp)
}

// putCertificate records a verified certificate unless it is already the
// region's current one.
func (n *Node) putCertificate(ctx context.Context, token string, c federation.Certificate) (membership.Region, error) {
	if cur, ok := n.members.View().Region(c.Region); ok && cur.CertID == c.ID {
		return cur, nil
	}
	cmd, err := membership.PutRegion(time.Now(), token)
	if err != nil {
		return membership.Region{}, err
	}
	cmd.Key = attemptKey("cert-" + c.ID)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := n.cons.Apply(ctx, cmd)
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
func (n *Node) handlePutRegion(w http.ResponseWriter, r *http.Request) {
	if !authorize(w, r, index.ActCertify, index.Target{}) {
		return
	}
	b, ok := readBody(w, r, 16<<10)
	if !ok {
		return
	}
	tok := strings.TrimSpace(string(b))
	auth := n.members.Authority()
	cert, err := federation.VerifyCertificate(tok, auth, time.Now())
	if err != nil {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, "not a valid membership certificate of this federation's authority"))
		return
	}
	reg, err := n.putCertificate(r.Context(), tok, cert)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	n.log.Info("certificate recorded", "code", reg.Code, "peer", reg.Peer, "role", reg.Role)
	httpapi.JSON(w, http.StatusOK, regionView{Code: reg.Code, Name: reg.Name, Peer: reg.Peer.String(), Role: string(reg.Role), Addrs: reg.Addrs, Expiry: reg.Expiry})
}

// handleRevoke applies an authority-signed revocation.
func (n *Node) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if !authorize(w, r, index.ActRevoke, index.Target{}) {
		return
	}
	b, ok := readBody(w, r, 16<<10)
	if !ok {
		return
	}
	tok := strings.TrimSpace(string(b))
	rv, err := federation.VerifyRevocation(tok, n.members.Authority())
	if err != nil {
		httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, "not a valid revocation of this federation's authority"))
		return
	}
	cmd := membership.Revoke(tok)
	cmd.Key = attemptKey("revoke-" + rv.ID)
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	if _, err := n.cons.Apply(ctx, cmd); err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	n.log.Warn("region revoked", "code", rv.Region, "peer", rv.Peer, "reason", rv.Reason)
	httpapi.JSON(w, http.StatusOK, map[string]string{"revoked": rv.Peer.String(), "region": rv.Region, "reason": rv.Reason})
}

// auditVerification is the answer of GET /v1/audit/verify.
type auditVerification struct {
	OK           bool   `json:"ok"`
	Region       string `json:"region"` // the node that recomputed the chain
	AppliedIndex uint64 `json:"applied_index"`
	Batches      int    `json:"batches"`
	Events       int    `json:"events"`
	Head         string `json:"head"`
	// Missing counts, per region, event numbers absent from the trail.
	Missing map[string]uint64 `json:"missing,omitempty"`
	// Spooled is how many of this node's events wait to be replicated.
	Spooled int `json:"spooled"`
	// Quarantined is how many of this node's events the trail refused for
	// good; they are kept in its spool directory.
	Quarantined int    `json:"quarantined,omitempty"`
	Error       string `json:"error,omitempty"`
}

// handleAuditVerify recomputes the audit trail's hash chain on this
// node's replica.
func (n *Node) handleAuditVerify(w http.ResponseWriter, r *http.Request) {
	if !authorize(w, r, index.ActVerifyAudit, index.Target{Region: n.cfg.Region}) {
		return
	}
	out := auditVerification{Region: n.cfg.Region}
	var verr error
	applied, err := n.cons.Read(r.Context(), consensus.Local, func(rd consensus.Reader) error {
		var rep index.AuditReport
		rep, verr = index.VerifyAudit(rd)
		out.Batches, out.Events, out.Head, out.Missing = rep.Batches, rep.Events, rep.Head, rep.Missing
		return nil
	})
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	out.AppliedIndex = applied
	if n.spool != nil {
		out.Spooled, out.Quarantined = n.spool.Len(), n.spool.Quarantined()
	}
	if verr = out.verdict(verr); verr != nil {
		out.Error = verr.Error()
		n.log.Error("audit trail verification failed", "err", verr)
	}
	httpapi.JSON(w, http.StatusOK, out)
}

// verdict sets OK and returns what fails the verification: a broken
// chain (chainErr), numbers missing from a region's sequence, or events
// of this node the trail refused — even the newest one, whose number
// shows as missing only once a later event arrives.
func (v *auditVerification) verdict(chainErr error) error {
	err := chainErr
	if err == nil && len(v.Missing) > 0 {
		err = fmt.Errorf("the chain is intact but events are missing from the sequences of regions %v", slices.Sorted(maps.Keys(v.Missing)))
	}
	if v.Quarantined > 0 {
		q := fmt.Errorf("region %s holds %d events the trail refused, set aside in its audit spool (see its log)", v.Region, v.Quarantined)
		if err == nil {
			err = q
		} else {
			err = fmt.Errorf("%w; %v", err, q)
		}
	}
	v.OK = err == nil
	return err
}

// handleFeeding serves the authority the regions' feeding statistics:
// versions indexed per type and month, patients with a document, and the
// share of them with a patient summary. ?region=CODE picks one region
// (default: every member); ?from=YYYY-MM&to=YYYY-MM bound the months.
func (n *Node) handleFeeding(w http.ResponseWriter, r *http.Request) {
	if !authorize(w, r, index.ActFeeding, index.Target{}) {
		return
	}
	q := r.URL.Query()
	month := func(name string) (string, bool) {
		v := q.Get(name)
		if v == "" {
			return "", true
		}
		if _, err := time.Parse("2006-01", v); err != nil {
			httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, name+": want YYYY-MM"))
			return "", false
		}
		return v, true
	}
	from, ok := month("from")
	if !ok {
		return
	}
	to, ok := month("to")
	if !ok {
		return
	}
	var regions []string
	if code := q.Get("region"); code != "" {
		if federation.RegionNames[code] == "" {
			httpapi.Fail(w, r, httpapi.E(httpapi.ErrInvalid, "region: want a region code"))
			return
		}
		regions = []string{code}
	} else {
		for _, reg := range n.members.View().Regions {
			regions = append(regions, reg.Code)
		}
	}
	var out []index.Feeding
	applied, err := n.cons.Read(r.Context(), consensus.Local, func(rd consensus.Reader) error {
		out = out[:0]
		for _, code := range regions {
			f, err := index.FeedingOf(rd, code, from, to)
			if err != nil {
				return err
			}
			out = append(out, f)
		}
		return nil
	})
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	w.Header().Set(fhirapi.HeaderAppliedIndex, strconv.FormatUint(applied, 10))
	httpapi.JSON(w, http.StatusOK, map[string]any{"regions": out})
}
