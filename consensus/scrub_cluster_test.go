package consensus_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/consensus/consensustest"
)

// scrubbing is a cluster configuration that checks the stored state every
// second.
func scrubbing(c *consensus.Config) { c.ScrubInterval = time.Second }

// stateDB opens a stopped node's state database, as someone with access
// to its disk would.
func stateDB(t *testing.T, n *consensustest.Node) *badger.DB {
	t.Helper()
	dir := filepath.Join(n.Dir, "state")
	cur, err := os.ReadFile(filepath.Join(dir, "CURRENT"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := badger.Open(badger.DefaultOptions(filepath.Join(dir, strings.TrimSpace(string(cur)))).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// sealed is a value as the state stores it: followed by the CRC-32C of
// the key's length, the key and the value. A test that writes it stands
// for someone who knows the format, or a lost or stale write: the seal
// holds, only the comparison with the other replicas can tell.
func sealed(key, value []byte) []byte {
	tab := crc32.MakeTable(crc32.Castagnoli)
	c := crc32.Update(0, tab, binary.AppendUvarint(nil, uint64(len(key))))
	c = crc32.Update(c, tab, key)
	c = crc32.Update(c, tab, value)
	return binary.BigEndian.AppendUint32(bytes.Clone(value), c)
}

func rangeOfKey(key string) int {
	return int(crc32.Checksum([]byte(key), crc32.MakeTable(crc32.Castagnoli)) >> 24)
}

// watchReads reads key on n until stop, and reports any answer that is
// neither want nor an error: a damaged replica must never answer wrong.
func watchReads(n *consensustest.Node, key, want string, stop <-chan struct{}) <-chan error {
	out := make(chan error, 1)
	go func() {
		defer close(out)
		reads := 0
		for {
			select {
			case <-stop:
				if reads == 0 {
					out <- fmt.Errorf("region %s was never asked to read %s", n.ID, key)
				}
				return
			case <-time.After(20 * time.Millisecond):
			}
			r := n.Replica()
			if r == nil {
				continue
			}
			var got string
			_, err := r.Read(context.Background(), consensus.Local, func(rd consensus.Reader) (err error) {
				got, err = readKey(rd, key)
				return err
			})
			reads++
			if err != nil {
				continue
			}
			if got != want {
				out <- fmt.Errorf("region %s answered %s = %q, want %q", n.ID, key, got, want)
				return
			}
		}
	}()
	return out
}

// waitAgreed waits until n's last comparison, at an index after from,
// finds every replica of the cluster in agreement.
func waitAgreed(t *testing.T, n *consensustest.Node, from uint64, replicas int) *consensus.ScrubReport {
	t.Helper()
	var rep *consensus.ScrubReport
	consensustest.Eventually(t, 60*time.Second, func() error {
		rep = n.Replica().ScrubReport()
		switch {
		case rep == nil:
			return errors.New("no comparison yet")
		case rep.Index <= from:
			return fmt.Errorf("last comparison at index %d", rep.Index)
		case !rep.Agree || len(rep.Regions) != replicas:
			return fmt.Errorf("comparison at %d: %+v", rep.Index, rep.Regions)
		}
		return nil
	}, "region %s finds every replica in agreement", n.ID)
	return rep
}

func TestScrubAgreesOnSoundReplicas(t *testing.T) {
	c := newCluster(t, 3, 0, scrubbing)
	leader := c.WaitLeader()
	for i := 0; i < 50; i++ {
		mustApply(t, leader, put(fmt.Sprint("k", i), fmt.Sprint("v", i)))
	}
	idx, err := leader.Replica().ProposeScrub(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes() {
		rep := waitAgreed(t, n, idx-1, 3)
		if rep.Keys < 50 {
			t.Errorf("region %s hashed %d keys, want at least 50", n.ID, rep.Keys)
		}
		if ok, why := n.Replica().Integrity(); !ok {
			t.Errorf("region %s: %s", n.ID, why)
		}
	}
}

// TestScrubRepairsDamagedReplica alters a stopped follower's stored state
// in three ways: a value whose bytes changed (its seal no longer
// matches), a key removed, and a value replaced by a stale one with a
// valid seal. The restarted follower never answers a wrong value, finds
// the damage, names the ranges, refuses reads, repairs itself from the
// others, and agrees with them again.
func TestScrubRepairsDamagedReplica(t *testing.T) {
	tests := []struct {
		name   string
		key    string // the key whose read is watched
		tamper func(txn *badger.Txn) error
		read   bool // a read of the key finds the damage (the seal breaks)
	}{
		{"flipped byte", "k42", func(txn *badger.Txn) error {
			k := []byte("kv/k42")
			item, err := txn.Get(k)
			if err != nil {
				return err
			}
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			v[0] ^= 0x20 // "v42" becomes "V42"; the seal stays as it was
			return txn.Set(k, v)
		}, true},
		{"lost write", "k7", func(txn *badger.Txn) error { return txn.Delete([]byte("kv/k7")) }, false},
		{"stale value", "k9", func(txn *badger.Txn) error {
			return txn.Set([]byte("kv/k9"), sealed([]byte("kv/k9"), []byte("v9-old")))
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t, 3, 0, scrubbing)
			leader := c.WaitLeader()
			for i := 0; i < 100; i++ {
				mustApply(t, leader, put(fmt.Sprint("k", i), fmt.Sprint("v", i)))
			}
			c.WaitConverged()
			victim := c.Followers()[0]
			c.Stop(victim)
			db := stateDB(t, victim)
			if err := db.Update(tt.tamper); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			want := "v" + strings.TrimPrefix(tt.key, "k")

			stop := make(chan struct{})
			c.Restart(victim)
			// A value whose seal broke is never answered. A key lost or
			// stale with its seal intact is answered wrong until the
			// first check finds it (at start, and every ScrubInterval).
			var reads <-chan error
			if tt.read {
				reads = watchReads(victim, tt.key, want, stop)
			}
			// Found within one check, with the key's range named.
			consensustest.Eventually(t, 30*time.Second, func() error {
				st := victim.Replica().ScrubStatus()
				if st.DamageFound == 0 {
					return errors.New("no damage found yet")
				}
				return nil
			}, "the damaged replica finds its damage")
			// Writes go on, one reading the damaged key: the replica
			// applies them once repaired.
			mustApply(t, c.WaitLeader(), put(tt.key, want))
			mustApply(t, c.WaitLeader(), put("after", "1"))
			// Repaired, and in agreement with the others at a later check.
			consensustest.Eventually(t, 60*time.Second, func() error {
				if ok, why := victim.Replica().Integrity(); !ok {
					return errors.New(why)
				}
				if st := victim.Replica().ScrubStatus(); st.Repairs == 0 {
					return errors.New("not repaired yet")
				}
				return nil
			}, "the replica repairs itself")
			close(stop)
			if reads != nil {
				if err := <-reads; err != nil {
					t.Fatal(err)
				}
			}
			rep := waitAgreed(t, victim, 0, 3)
			if got, _ := mustRead(t, victim, consensus.Local, tt.key); got != want {
				t.Fatalf("%s = %q after the repair, want %q", tt.key, got, want)
			}
			c.WaitConverged()
			if got, _ := mustRead(t, victim, consensus.Local, "after"); got != "1" {
				t.Fatalf("a write made during the repair reads %q", got)
			}
			t.Logf("agreement at index %d over %d keys", rep.Index, rep.Keys)
		})
	}
}

// TestScrubNamesDifferingRanges checks the report a sound replica makes
// of a damaged one, before the damaged one repairs itself: the comparison
// names the region and the range of the key that differs.
func TestScrubNamesDifferingRanges(t *testing.T) {
	// No node asks for checks of its own: the only one is the leader's.
	c := newCluster(t, 3, 0, func(cfg *consensus.Config) { cfg.ScrubInterval = 0 })
	leader := c.WaitLeader()
	for i := 0; i < 20; i++ {
		mustApply(t, leader, put(fmt.Sprint("k", i), fmt.Sprint("v", i)))
	}
	c.WaitConverged()
	victim := c.Followers()[0]
	c.Stop(victim)
	db := stateDB(t, victim)
	if err := db.Update(func(txn *badger.Txn) error { return txn.Delete([]byte("kv/k3")) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	c.Restart(victim)
	c.WaitConverged()
	idx, err := leader.Replica().ProposeScrub(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var rep *consensus.ScrubReport
	consensustest.Eventually(t, 30*time.Second, func() error {
		rep = leader.Replica().ScrubReport()
		if rep == nil || rep.Index < idx {
			return errors.New("no comparison at the marker yet")
		}
		return nil
	}, "the leader compares")
	if rep.Agree {
		t.Fatalf("the leader finds agreement with a replica that lost a key: %+v", rep.Regions)
	}
	want := rangeOfKey("kv/k3")
	for _, r := range rep.Regions {
		switch {
		case r.ID == victim.ID && (r.State != consensus.ScrubDiffers || !slices.Equal(r.Ranges, []int{want})):
			t.Errorf("damaged region %s: %s, ranges %v, want differs in [%d]", r.ID, r.State, r.Ranges, want)
		case r.ID != victim.ID && r.State != consensus.ScrubAgrees:
			t.Errorf("sound region %s: %s (%s)", r.ID, r.State, r.Note)
		}
	}
}
