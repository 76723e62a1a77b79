package telemed

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/telemed/monitor"
)

// MoveProtocol carries a telemonitoring plan and its readings from the
// patient's old home node to the new one, node to node: the stream's
// certified peer names the sending region, which must be a region the
// registry says the patient lived in, and the receiver must be the
// patient's home now. Pages may be sent again (a cut stream is resumed
// from the start of the page): the receiver keeps each reading once.
var MoveProtocol = federation.ProtocolID("telemed-move", "1.0.0")

type moveMessage struct {
	V        int               `json:"v"`
	Op       string            `json:"op"` // import, verify
	Plan     monitor.Plan      `json:"plan"`
	Readings []monitor.Reading `json:"readings,omitempty"`
	Count    int               `json:"count,omitempty"`
	Digest   string            `json:"digest,omitempty"`
}

const (
	movePage  = 1000
	moveEvery = 10 * time.Second
)

func moveOptions() federation.RPCOptions {
	o := federation.DefaultRPCOptions()
	o.MaxRequest, o.MaxResponse, o.Timeout = 8<<20, 64<<10, 30*time.Second
	return o
}

// followPatients moves the plans of patients whose home region changed.
func (m *Module) followPatients(ctx context.Context) {
	plans, err := m.monitor.ActivePlans()
	if err != nil {
		m.log.Error("read the active plans", "err", err)
		return
	}
	for _, p := range plans {
		pt, err := m.registered(ctx, p.Patient)
		if err != nil || pt == nil || pt.HomeRegion == m.cfg.Region {
			continue
		}
		if err := m.movePlan(ctx, p, pt.HomeRegion); err != nil {
			m.log.Info("a telemonitoring plan not moved yet", "plan", p.ID, "to", pt.HomeRegion, "reason", err.Error())
			continue
		}
		m.log.Info("a telemonitoring plan moved with its patient", "plan", p.ID, "to", pt.HomeRegion)
	}
}

// movePlan sends a plan and every reading to region's node, page by
// page, has it compare the digests, and only then forgets them here.
func (m *Module) movePlan(ctx context.Context, p monitor.Plan, region string) error {
	to, ok := m.d.RegionPeer(region)
	if !ok {
		return fmt.Errorf("region %s is not a member", region)
	}
	send := func(msg moveMessage) error {
		msg.V, msg.Plan = 1, p
		b, err := json.Marshal(msg)
		if err != nil {
			return err
		}
		_, err = federation.Call(ctx, m.d.Host, to, MoveProtocol, b, moveOptions())
		return err
	}
	var after []byte
	for {
		rs, next, err := m.monitor.Export(p.Patient, after, movePage)
		if err != nil {
			return err
		}
		if err := send(moveMessage{Op: "import", Readings: rs}); err != nil {
			return err
		}
		if next == nil {
			break
		}
		after = next
	}
	n, digest, err := m.monitor.Digest(p.Patient)
	if err != nil {
		return err
	}
	if err := send(moveMessage{Op: "verify", Count: n, Digest: digest}); err != nil {
		return err
	}
	return m.monitor.Forget(p, region, n)
}

// serveMoves takes plans moving here.
func (m *Module) serveMoves(h federation.StreamHost) {
	federation.Serve(h, MoveProtocol, moveOptions(), m.log, func(ctx context.Context, from peer.ID, b []byte) ([]byte, error) {
		var msg moveMessage
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&msg); err != nil || msg.V != 1 || msg.Op != "import" && msg.Op != "verify" {
			return nil, &federation.RemoteError{Code: codeInvalid, Message: "not a version 1 move"}
		}
		if err := m.mayMoveHere(ctx, m.regionOfPeer(from), msg.Plan); err != nil {
			return nil, err
		}
		m.mu.RLock()
		defer m.mu.RUnlock()
		if m.monitor == nil {
			return nil, &federation.RemoteError{Code: codeUnavailable, Message: "this node keeps no telemonitoring"}
		}
		if msg.Op == "import" {
			if _, err := m.monitor.Import(msg.Plan, msg.Readings); err != nil {
				return nil, remoteError(monitorError(err, "CarePlan"))
			}
			return []byte(`{}`), nil
		}
		n, digest, err := m.monitor.Digest(msg.Plan.Patient)
		switch {
		case err != nil:
			return nil, remoteError(monitorError(err, "CarePlan"))
		case n != msg.Count || digest != msg.Digest:
			return nil, &federation.RemoteError{Code: codeConflict, Message: fmt.Sprintf("%d readings here, %d sent: send them again", n, msg.Count)}
		}
		ev := index.Event{Actor: "node:" + m.regionOfPeer(from), Role: "node", Region: m.regionOfPeer(from), Purpose: index.PurposeTreatment,
			Action: index.ActionCreate, What: "CarePlan.monitoring.move", Patient: msg.Plan.Patient, Outcome: index.OutcomeSuccess}
		if err := m.d.Audit.Record(ctx, ev); err != nil {
			return nil, &federation.RemoteError{Code: codeUnavailable, Message: "the move could not be audited; retry"}
		}
		return []byte(`{}`), nil
	})
}

// mayMoveHere accepts a plan from a region the patient lived in, for a
// patient whose home is this region now.
func (m *Module) mayMoveHere(ctx context.Context, sender string, p monitor.Plan) error {
	pt, err := m.registered(ctx, p.Patient)
	switch {
	case err != nil:
		return &federation.RemoteError{Code: codeUnavailable, Message: "the registry could not be read"}
	case sender == "" || pt == nil || pt.HomeRegion != m.cfg.Region || sender == m.cfg.Region:
		return &federation.RemoteError{Code: codeForbidden, Message: "a plan moves to its patient's home region, from a region they lived in"}
	case !slices.ContainsFunc(pt.Homes, func(h index.HomeChange) bool { return h.Region == sender }):
		return &federation.RemoteError{Code: codeForbidden, Message: "the patient never lived in region " + sender}
	case !strings.HasPrefix(p.ID, sender+"-tm-"):
		return &federation.RemoteError{Code: codeForbidden, Message: "a region moves its own plans"}
	}
	return nil
}
