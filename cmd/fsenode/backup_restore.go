package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/node"
	"github.com/fsenet/fsenet/repository/store"
)

// restoreReport is what a restore did and what its check found.
type restoreReport struct {
	stateIndex    uint64 // the restored state's index; 0 when the state was not restored
	documentsOnly bool
	backup        *node.BackupManifest // nil for a snapshot
	repoDir       string
	stores        []string // the other stores restored, as "file into dir"
	check         store.CheckReport
	checkIndex    uint64 // the index of the state the check read
	noStore       bool   // the data directory holds no document store
}

// repositoryDir is the document store's directory of a configuration, as
// the node resolves it (relative paths are under data_dir).
func repositoryDir(cfg node.Config) string {
	if filepath.IsAbs(cfg.Repository.Dir) {
		return cfg.Repository.Dir
	}
	return filepath.Join(cfg.DataDir, cfg.Repository.Dir)
}

// restoreSnapshot restores the replicated state alone, then checks it
// against whatever document store the data directory holds.
func restoreSnapshot(cfg node.Config, file string, log *slog.Logger) (restoreReport, error) {
	rep := restoreReport{repoDir: repositoryDir(cfg)}
	f, err := os.Open(file)
	if err != nil {
		return rep, err
	}
	defer f.Close()
	if rep.stateIndex, err = node.Restore(cfg, f, log); err != nil {
		return rep, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return rep, err
	}
	err = rep.runCheck(cfg, f, log)
	return rep, err
}

// restoreBackup verifies a region backup whole, then restores its state
// (unless documentsOnly) and its document store, and checks them.
func restoreBackup(cfg node.Config, dir string, documentsOnly bool, log *slog.Logger) (restoreReport, error) {
	rep := restoreReport{repoDir: repositoryDir(cfg), documentsOnly: documentsOnly}
	man, err := verifyBackup(dir)
	if err != nil {
		return rep, err
	}
	rep.backup = &man
	if man.Region != cfg.Region {
		return rep, fmt.Errorf("%s is a backup of region %s; this node is region %s: refused", dir, man.Region, cfg.Region)
	}
	if ents, err := os.ReadDir(rep.repoDir); err == nil && len(ents) > 0 {
		return rep, fmt.Errorf("%w: %s holds a document store; restore into an empty data directory", store.ErrNotEmpty, rep.repoDir)
	}
	stores := node.StoreDirs(cfg)
	for name := range man.Files {
		if d, ok := stores[name]; ok {
			if ents, err := os.ReadDir(d); err == nil && len(ents) > 0 {
				return rep, fmt.Errorf("%w: %s holds a store; restore into an empty data directory", store.ErrNotEmpty, d)
			}
		}
	}
	statePath := filepath.Join(dir, node.BackupStateFile)
	if !documentsOnly {
		f, err := os.Open(statePath)
		if err != nil {
			return rep, err
		}
		rep.stateIndex, err = node.Restore(cfg, f, log)
		f.Close()
		if err != nil {
			return rep, err
		}
	}
	loads := []struct{ file, dir string }{{node.BackupRepositoryFile, rep.repoDir}}
	for _, name := range slices.Sorted(maps.Keys(man.Files)) {
		if d, ok := stores[name]; ok {
			loads = append(loads, struct{ file, dir string }{name, d})
		}
	}
	for i, l := range loads {
		if err := loadStore(filepath.Join(dir, l.file), l.dir, log); err != nil {
			// Leave the data directory as it was: no state without its
			// documents, no store without the others.
			for _, done := range loads[:i] {
				os.RemoveAll(done.dir)
			}
			if !documentsOnly {
				for _, sub := range []string{"wal", "snapshots"} {
					os.RemoveAll(filepath.Join(cfg.DataDir, "consensus", sub))
				}
			}
			return rep, fmt.Errorf("restore %s: %w", l.file, err)
		}
		if i > 0 {
			rep.stores = append(rep.stores, l.file+" into "+l.dir)
		}
	}
	f, err := os.Open(statePath)
	if err != nil {
		return rep, err
	}
	defer f.Close()
	return rep, rep.runCheck(cfg, f, log)
}

// loadStore loads a store's backup file into the empty directory dir.
func loadStore(file, dir string, log *slog.Logger) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	return store.Load(dir, f, log)
}

// verifyBackup reads a backup directory's manifest and checks every file
// it names against it.
func verifyBackup(dir string) (node.BackupManifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, node.BackupManifestFile))
	if err != nil {
		return node.BackupManifest{}, fmt.Errorf("%w: %v", node.ErrBadBackup, err)
	}
	man, err := node.ReadBackupManifest(b)
	if err != nil {
		return man, err
	}
	for name, want := range man.Files {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return man, fmt.Errorf("%w: %v", node.ErrBadBackup, err)
		}
		h := sha256.New()
		n, err := io.Copy(h, f)
		f.Close()
		if err != nil {
			return man, fmt.Errorf("%w: %s: %v", node.ErrBadBackup, name, err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != want.SHA256 || n != want.Bytes {
			return man, fmt.Errorf("%w: %s has %d bytes with SHA-256 %s; the manifest says %d bytes, %s", node.ErrBadBackup, name, n, got, want.Bytes, want.SHA256)
		}
	}
	return man, nil
}

// runCheck reads the snapshot in state and lists the index entries of
// the region whose document the data directory's store does not hold.
func (rep *restoreReport) runCheck(cfg node.Config, state io.Reader, log *slog.Logger) error {
	var view *store.Backup
	if ents, err := os.ReadDir(rep.repoDir); err == nil && len(ents) > 0 {
		sc := store.DefaultConfig(rep.repoDir)
		sc.GCInterval = 0
		sc.Log = log
		s, err := store.Open(sc)
		if err != nil {
			return fmt.Errorf("check: %w", err)
		}
		defer s.Close()
		if view, err = s.OpenBackup(nil); err != nil {
			return fmt.Errorf("check: %w", err)
		}
		defer view.Close()
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("check: %w", err)
	} else {
		rep.noStore = true
	}
	err := consensus.InspectSnapshot(state, cfg.DataDir, log, func(info consensus.SnapshotInfo, r consensus.Reader) error {
		rep.checkIndex = info.Index
		if view != nil {
			var err error
			rep.check, err = view.Check(r, cfg.Region)
			return err
		}
		// No store: every entry of the region misses its document.
		rep.check = store.CheckReport{Missing: []string{}, Unindexed: []string{}}
		return index.ByCustodian(r, cfg.Region, index.Range{}, func(e index.Entry) bool {
			rep.check.Entries++
			rep.check.Missing = append(rep.check.Missing, e.ID)
			return true
		})
	})
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	return nil
}

func (rep restoreReport) print(w io.Writer, cfg node.Config, configPath string) {
	if rep.stateIndex > 0 {
		fmt.Fprintf(w, "restored the state at log index %d into %s\n", rep.stateIndex, cfg.DataDir)
	}
	if b := rep.backup; b != nil {
		fmt.Fprintf(w, "restored the documents of region %s into %s: %d documents, %d contents, %d index commands in the outbox (the node sends them when it starts)\n",
			b.Region, rep.repoDir, b.Repository.Documents, b.Repository.Contents, b.Repository.Outbox)
	} else {
		fmt.Fprintf(w, "a snapshot holds no documents: the documents of region %s are the ones already in %s\n", cfg.Region, rep.repoDir)
	}
	for _, s := range rep.stores {
		fmt.Fprintf(w, "restored %s\n", s)
	}
	c := rep.check
	switch {
	case len(c.Missing) == 0:
		fmt.Fprintf(w, "check: %d index entries of region %s at log index %d, every one with its document\n", c.Entries, cfg.Region, rep.checkIndex)
	default:
		where := rep.repoDir
		if rep.noStore {
			where += " (no document store)"
		}
		fmt.Fprintf(w, "check: %d of %d index entries of region %s at log index %d have no document in %s:\n", len(c.Missing), c.Entries, cfg.Region, rep.checkIndex, where)
		for _, id := range c.Missing {
			fmt.Fprintf(w, "  missing %s\n", id)
		}
	}
	if len(c.Unindexed) > 0 {
		fmt.Fprintf(w, "check: %d documents of the store are not in this state's index (published after it):\n", len(c.Unindexed))
		for _, id := range c.Unindexed {
			fmt.Fprintf(w, "  unindexed %s\n", id)
		}
	}
	switch {
	case rep.documentsOnly:
		fmt.Fprintf(w, "start the node with: fsenode run --config %s (with p2p.join set if its consensus directory is empty), then run: fsectl backup check\n", configPath)
	default:
		fmt.Fprintf(w, "start the node with: fsenode run --config %s\n", configPath)
	}
}
