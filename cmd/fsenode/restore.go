package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/fsenet/fsenet/node"
)

// restoreCmd builds a node's state and documents from a region backup
// (fsectl backup save), or its state alone from a snapshot (fsectl
// snapshot save), into an empty data directory, then checks that every
// index entry of the region has its document.
func restoreCmd(_ context.Context, args []string) error {
	cl := newCmdLine("restore", "[--config FILE] [--documents-only] [--KEY VALUE]... BACKUP|SNAPSHOT", "", "BACKUP|SNAPSHOT")
	fs := cl.fs
	configPath := fs.String("config", "", "the node's TOML configuration (its data_dir must not hold a replica nor documents)")
	documentsOnly := fs.Bool("documents-only", false, "restore only the region's documents from BACKUP: the node rejoins a running federation, which gives it the state")
	var cfg node.Config
	applyFlags := registerConfigFlags(fs, &cfg)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `Usage: fsenode restore [--config FILE] [--documents-only] [--KEY VALUE]... BACKUP|SNAPSHOT

BACKUP is a region's backup directory (fsectl backup save): its manifest and
checksums are verified, and a backup of another region is refused, before
anything is written. Both its parts are restored: the replicated state, from
which the node starts as the only voter of the restored federation (the other
regions rejoin it with empty consensus directories and catch up from it), and
the region's document store. With --documents-only, only the document store
is restored: for a region whose node rejoins a running federation (empty
consensus directory, p2p.join set), or keeps its state.

SNAPSHOT is a file of the replicated state alone (fsectl snapshot save); it
holds none of the region's documents.

Then every index entry of this region in the restored state is looked up in
the document store; the entries whose document is missing are listed and the
exit status is 1. After a --documents-only restore, run "fsectl backup check"
once the node is ready: the federation's state may name documents published
after the backup.`)
		fs.PrintDefaults()
	}
	pos, err := cl.parse(args)
	if err != nil {
		return err
	}
	if err := loadConfig(*configPath, &cfg, applyFlags); err != nil {
		return err
	}
	// A node running on the data directory would write beside the
	// restore: the same lock as fsenode run's keeps them apart.
	release, err := lockDir(cfg.DataDir, "data directory")
	if err != nil {
		return err
	}
	defer release()
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	src := pos[0]
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	var rep restoreReport
	if fi.IsDir() {
		rep, err = restoreBackup(cfg, src, *documentsOnly, log)
	} else {
		if *documentsOnly {
			return fmt.Errorf("--documents-only needs a region backup directory (fsectl backup save); %s is a file", src)
		}
		rep, err = restoreSnapshot(cfg, src, log)
	}
	if err != nil {
		return err
	}
	rep.print(os.Stdout, cfg, *configPath)
	if n := len(rep.check.Missing); n > 0 {
		return fmt.Errorf("%d index entries of region %s have no document in %s (listed above)", n, cfg.Region, rep.repoDir)
	}
	return nil
}
