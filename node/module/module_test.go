package module

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
)

type fake struct {
	name     string
	log      *[]string
	startErr error
	stopErr  error
}

func (f *fake) Name() string              { return f.name }
func (f *fake) Register(*Registrar) error { *f.log = append(*f.log, "register "+f.name); return nil }
func (f *fake) Start(context.Context) error {
	*f.log = append(*f.log, "start "+f.name)
	return f.startErr
}
func (f *fake) Stop(context.Context) error { *f.log = append(*f.log, "stop "+f.name); return f.stopErr }

func TestSetStartsInOrderAndStopsInReverse(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name      string
		failStart string
		failStop  string
		want      string
		errSays   string
	}{
		{"all well", "", "", "start a,start b,start c,stop c,stop b,stop a", ""},
		{"the second fails to start", "b", "", "start a,start b,stop c,stop b,stop a", "b: start: boom"},
		{"a stop fails, the others still stop", "", "b", "start a,start b,start c,stop c,stop b,stop a", "b: stop: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log []string
			var s Set
			for _, n := range []string{"a", "b", "c"} {
				f := &fake{name: n, log: &log}
				if n == tt.failStart {
					f.startErr = boom
				}
				if n == tt.failStop {
					f.stopErr = boom
				}
				s = append(s, f)
			}
			err := s.Start(context.Background())
			stopErr := s.Stop(context.Background())
			if got := strings.Join(log, ","); got != tt.want {
				t.Fatalf("order %s, want %s", got, tt.want)
			}
			all := errors.Join(err, stopErr)
			if (tt.errSays == "") != (all == nil) || (all != nil && (!strings.Contains(all.Error(), tt.errSays) || !errors.Is(all, boom))) {
				t.Fatalf("err %v, want one saying %q", all, tt.errSays)
			}
		})
	}
}

type host struct{ set map[protocol.ID]bool }

func (h *host) SetStreamHandler(p protocol.ID, _ network.StreamHandler) { h.set[p] = true }
func (h *host) RemoveStreamHandler(p protocol.ID)                       { delete(h.set, p) }

// Protocols are served only between Install and Uninstall.
func TestProtocolsAreServedOnlyWhileInstalled(t *testing.T) {
	var p Protocols
	h := &host{set: map[protocol.ID]bool{}}
	p.SetStreamHandler("/a/1", func(network.Stream) {})
	if len(h.set) != 0 {
		t.Fatal("served before install")
	}
	p.Install(h)
	p.SetStreamHandler("/b/1", func(network.Stream) {})
	if !h.set["/a/1"] || !h.set["/b/1"] {
		t.Fatalf("installed: %v", h.set)
	}
	p.Uninstall()
	if len(h.set) != 0 {
		t.Fatalf("still served after uninstall: %v", h.set)
	}
}
