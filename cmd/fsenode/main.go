// Command fsenode runs one region's fsenet node, or a whole federation of
// regions on this machine (demo).
//
//	fsenode run [--config FILE] [--KEY VALUE]...
//	fsenode demo [--dir DIR] [--regions 030,150,160]
//	fsenode init --dir DIR --region CODE
//	fsenode authority init|certify|revoke|promote|demote
//	fsenode token (--idp-key FILE | --authority-key FILE) --sub CF ...
//	fsenode restore [--config FILE] SNAPSHOT
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/fsenet/fsenet/federation"
)

func usage() {
	fmt.Fprint(os.Stderr, `fsenode: a region's node of the fsenet federation

Usage:
  fsenode run  [--config FILE] [--KEY VALUE]...
               run one region's node (every configuration key is also a flag)
  fsenode demo [--dir DIR] [--regions 030,150,160]
               run a whole federation on this machine, one process per region
  fsenode init --dir DIR --region CODE
               create a region's node key, IdP key and a commented sample configuration
  fsenode authority init|certify|revoke|promote|demote
               the national authority's key, membership certificates, revocations
  fsenode version
               this program's version (also --version)
  fsenode token (--idp-key FILE | --authority-key FILE) --sub CF [flags]
               issue a token from a key file, for development and tests
  fsenode restore [--config FILE] SNAPSHOT
               build a node's state from a snapshot into an empty data directory

Run "fsenode COMMAND -h" for a command's flags.
`)
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "run":
		err = runCmd(ctx, os.Args[2:])
	case "demo":
		err = demoCmd(ctx, os.Args[2:])
	case "init":
		err = initCmd(os.Args[2:])
	case "authority":
		err = authorityCmd(os.Args[2:])
	case "token":
		err = tokenCmd(os.Args[2:])
	case "restore":
		err = restoreCmd(ctx, os.Args[2:])
	case "--version", "version":
		fmt.Println("fsenode " + federation.BuildInfo().String())
		return
	case "-h", "--help", "help":
		usage()
		return
	default:
		fmt.Fprintf(os.Stderr, "fsenode: unknown command %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err != nil {
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "fsenode %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")
