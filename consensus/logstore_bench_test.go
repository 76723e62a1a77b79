package consensus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
)

// badgerLogStore is the candidate "store of our own on badger": log entries
// under big-endian index keys, written with SyncWrites so each StoreLogs is
// durable. It exists for the comparison below; the node uses raft-wal.
type badgerLogStore struct{ db *badger.DB }

func openBadgerLogStore(dir string) (*badgerLogStore, error) {
	db, err := badger.Open(badger.DefaultOptions(dir).WithSyncWrites(true).WithLogger(nil).
		WithMemTableSize(16 << 20).WithValueThreshold(1 << 10))
	if err != nil {
		return nil, err
	}
	return &badgerLogStore{db: db}, nil
}

func logKey(i uint64) []byte { return binary.BigEndian.AppendUint64([]byte("l"), i) }

func (s *badgerLogStore) StoreLogs(logs []*raft.Log) error {
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for _, l := range logs {
		v := make([]byte, 0, 17+len(l.Data))
		v = binary.BigEndian.AppendUint64(v, l.Term)
		v = append(v, byte(l.Type))
		v = append(v, l.Data...)
		if err := wb.Set(logKey(l.Index), v); err != nil {
			return err
		}
	}
	return wb.Flush()
}

func (s *badgerLogStore) GetLog(i uint64, l *raft.Log) error {
	return s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(logKey(i))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return raft.ErrLogNotFound
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			l.Index, l.Term, l.Type = i, binary.BigEndian.Uint64(v), raft.LogType(v[8])
			l.Data = append([]byte(nil), v[9:]...)
			return nil
		})
	})
}

type logStore interface {
	StoreLogs([]*raft.Log) error
	GetLog(uint64, *raft.Log) error
}

// BenchmarkLogStore compares the candidate Raft log stores on this disk:
// appending batches of 1 KiB entries with fsync (1 entry per append, as with
// one writer; 64 per append, as under load) and reading entries back.
//
//	go test ./consensus -run '^$' -bench LogStore -benchtime 2000x
func BenchmarkLogStore(b *testing.B) {
	stores := map[string]func(dir string) (logStore, func(), error){
		"raft-wal": func(dir string) (logStore, func(), error) {
			meta := &metadb.BoltMetaDB{}
			w, err := wal.Open(dir, wal.WithMetaStore(meta))
			if err != nil {
				return nil, nil, err
			}
			return w, func() { w.Close(); meta.Close() }, nil
		},
		"badger": func(dir string) (logStore, func(), error) {
			s, err := openBadgerLogStore(dir)
			if err != nil {
				return nil, nil, err
			}
			return s, func() { s.db.Close() }, nil
		},
		"raft-boltdb-v2": func(dir string) (logStore, func(), error) {
			s, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
			if err != nil {
				return nil, nil, err
			}
			return s, func() { s.Close() }, nil
		},
	}
	data := make([]byte, 1024)
	for _, name := range []string{"raft-wal", "badger", "raft-boltdb-v2"} {
		for _, batch := range []int{1, 64} {
			b.Run(fmt.Sprintf("store=%s/append=%d", name, batch), func(b *testing.B) {
				dir := b.TempDir()
				if err := os.MkdirAll(dir, 0o700); err != nil {
					b.Fatal(err)
				}
				s, closeFn, err := stores[name](dir)
				if err != nil {
					b.Fatal(err)
				}
				defer closeFn()
				idx := uint64(0)
				b.SetBytes(int64(batch * len(data)))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					logs := make([]*raft.Log, batch)
					for j := range logs {
						idx++
						logs[j] = &raft.Log{Index: idx, Term: 1, Type: raft.LogCommand, Data: data}
					}
					if err := s.StoreLogs(logs); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "entries/s")
				var l raft.Log
				if err := s.GetLog(idx/2+1, &l); err != nil || len(l.Data) != len(data) {
					b.Fatalf("read back: %v", err)
				}
			})
		}
	}
}
