package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/fsenet/fsenet/node"
)

// restoreCmd builds a node's state from a snapshot (fsectl snapshot save)
// into an empty data directory.
func restoreCmd(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	configPath := fs.String("config", "", "the node's TOML configuration (its data_dir must not hold a replica)")
	var cfg node.Config
	applyFlags := node.RegisterFlags(fs, &cfg)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `Usage: fsenode restore [--config FILE] [--KEY VALUE]... SNAPSHOT

Builds this node's state from SNAPSHOT into its empty data directory. The node
then starts as the only voter of the restored federation; the other regions
rejoin it with empty data directories and catch up from it.`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	if err := loadConfig(*configPath, &cfg, applyFlags); err != nil {
		return err
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	idx, err := node.Restore(cfg, f, log)
	if err != nil {
		return err
	}
	fmt.Printf("restored the state at log index %d into %s\nstart the node with: fsenode run --config %s\n", idx, cfg.DataDir, *configPath)
	return nil
}
