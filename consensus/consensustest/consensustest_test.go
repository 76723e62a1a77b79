package consensustest

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fsenet/fsenet/consensus"
)

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// the goroutine, as testing's does.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls f with a recorder in its own goroutine and returns the failure
// message, "" if f returned.
func run(t *testing.T, f func(tb testing.TB)) string {
	r := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r.msg
}

func TestEventually(t *testing.T) {
	tests := []struct {
		name string
		wait func(tb testing.TB, calls *int)
		want string // in the failure message; "" for no failure
	}{
		{"bool holds at the third call", func(tb testing.TB, calls *int) {
			Eventually(tb, time.Second, func() bool { *calls++; return *calls == 3 }, "three calls")
		}, ""},
		{"error cleared at the third call", func(tb testing.TB, calls *int) {
			Eventually(tb, time.Second, func() error {
				if *calls++; *calls < 3 {
					return errors.New("not yet")
				}
				return nil
			}, "three calls")
		}, ""},
		{"bool never holds", func(tb testing.TB, calls *int) {
			Eventually(tb, 50*time.Millisecond, func() bool { *calls++; return false }, "the %s", "impossible")
		}, "timed out after 50ms waiting for the impossible"},
		{"error never cleared", func(tb testing.TB, calls *int) {
			Eventually(tb, 50*time.Millisecond, func() error { *calls++; return fmt.Errorf("call %d", *calls) }, "the impossible")
		}, "waiting for the impossible: call "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			got := run(t, func(tb testing.TB) { tt.wait(tb, &calls) })
			switch {
			case tt.want == "" && got != "":
				t.Fatalf("failed: %s", got)
			case tt.want != "" && !strings.Contains(got, tt.want):
				t.Fatalf("failure %q, want it to contain %q", got, tt.want)
			case tt.want != "" && calls < 2:
				t.Fatalf("the condition was called %d times before giving up", calls)
			}
		})
	}
}

// nopMachine applies "test.nop" commands and nothing else.
type nopMachine struct{}

func (nopMachine) Apply(*consensus.Tx, consensus.Command) ([]byte, error) { return nil, nil }

func (m nopMachine) Register(r interface {
	Register(typ string, h consensus.Handler) error
}) error {
	return r.Register("test.nop", m)
}

// A node restarted while partitioned stays on its side, with its key, until
// the partition heals; then it catches up.
func TestRestartDuringPartition(t *testing.T) {
	c := NewCluster(t, Options{Voters: 3, Machines: []func() Registrar{func() Registrar { return nopMachine{} }}})
	c.WaitLeader()
	lone := c.Followers()[0]
	peer := lone.Peer()
	c.Partition(lone)
	c.Restart(lone)
	if lone.Peer() != peer {
		t.Fatalf("peer ID %s after the restart, was %s", lone.Peer(), peer)
	}
	var majority []*Node
	for _, n := range c.Nodes() {
		if n != lone {
			majority = append(majority, n)
		}
	}
	leader := c.WaitLeader(majority...)
	var last uint64
	for i := 0; i < 10; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := leader.Replica().Apply(ctx, consensus.Command{Type: "test.nop"})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		last = res.Index
	}
	for _, n := range majority {
		if len(n.Host().Network().ConnsToPeer(lone.Peer())) != 0 {
			t.Fatalf("%s is connected to the partitioned node", n.ID)
		}
	}
	if st := lone.Replica().Status(); st.AppliedIndex >= last {
		t.Fatalf("the partitioned node applied index %d, the majority's last write is %d", st.AppliedIndex, last)
	}
	c.Heal()
	if idx, _ := c.WaitConverged(); idx < last {
		t.Fatalf("converged at %d, before the last write %d", idx, last)
	}
}

// Only tests may depend on the harness: no package's own files import it.
func TestImportedByTestsOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("lists the module's packages with the go command")
	}
	out, err := exec.Command("go", "list", "-e", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "github.com/fsenet/fsenet/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const self = "github.com/fsenet/fsenet/consensus/consensustest"
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, " ")
		if slices.Contains(strings.Fields(imports), self) {
			t.Errorf("%s imports %s outside its tests", pkg, self)
		}
	}
}
