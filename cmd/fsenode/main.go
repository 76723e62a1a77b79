// Command fsenode runs one region's fsenet node, or a whole federation of
// regions on this machine (demo).
//
//	fsenode run [--config FILE] [--KEY VALUE]...
//	fsenode demo [--dir DIR] [--regions 030,150,160]
//	fsenode init --dir DIR --region CODE [--founder]
//	fsenode authority init|certify|revoke|promote|demote
//	fsenode token (--idp-key FILE | --authority-key FILE) --sub CF ...
//	fsenode restore [--config FILE] SNAPSHOT
package main

import (
	"context"
	"errors"
	"flag"
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
  fsenode init --dir DIR --region CODE [--founder]
               create a region's node key, IdP key and a commented sample configuration
  fsenode authority init|certify|revoke|promote|demote
               the national authority's key, membership certificates, revocations
  fsenode version
               this program's version (also --version)
  fsenode token (--idp-key FILE | --authority-key FILE) --sub CF [flags]
               issue a token from a key file, for development and tests
  fsenode restore [--config FILE] SNAPSHOT
               build a node's state from a snapshot into an empty data directory

Run "fsenode COMMAND -h" for a command's flags. Exit status: 0 on success,
1 when the command fails, 2 on a usage error.
`)
}

func main() {
	ctx, stop := signalContext()
	code := mainCode(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// mainCode runs the command of args and returns the exit status: 0 on
// success and for help, 1 when the command fails, 2 on a usage error.
func mainCode(ctx context.Context, args []string) int {
	if len(args) < 1 {
		usage()
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = runCmd(ctx, args[1:])
	case "demo":
		err = demoCmd(ctx, args[1:])
	case "init":
		err = initCmd(args[1:])
	case "authority":
		err = authorityCmd(args[1:])
	case "token":
		err = tokenCmd(args[1:])
	case "restore":
		err = restoreCmd(ctx, args[1:])
	case "--version", "-version", "version":
		fmt.Println("fsenode " + federation.BuildInfo().String())
		return 0
	case "-h", "-help", "--help", "help":
		usage()
		return 0
	default:
		fmt.Fprintf(os.Stderr, "fsenode: unknown command %q\n\n", args[0])
		usage()
		return 2
	}
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "fsenode %s: %s\nRun \"fsenode %s -h\" for its flags.\n", ue.cmd, ue.msg, ue.cmd)
		return 2
	case errors.Is(err, errUsage):
		if wantsHelp(args[1:]) {
			return 0 // a command that reports -h as a usage error
		}
		return 2 // what was wrong is printed already
	}
	fmt.Fprintf(os.Stderr, "fsenode %s: %v\n", args[0], err)
	return 1
}

// stopSignals stop fsenode cleanly: Ctrl-C, a supervisor's SIGTERM, and
// the hang-up of the terminal it runs in. A second one ends the process
// at once.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

// signalled is the cause of the context's end when a signal stopped
// the process.
type signalled struct{ sig os.Signal }

func (s signalled) Error() string { return "signal: " + s.sig.String() }

// signalContext is cancelled, with a signalled cause, by the first stop
// signal; after it the signals take their default action again.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, stopSignals...)
	go func() {
		select {
		case s := <-ch:
			signal.Reset(stopSignals...)
			cancel(signalled{s})
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		cancel(nil)
	}
}

// stopSignal is the signal that ended ctx, or nil.
func stopSignal(ctx context.Context) os.Signal {
	var s signalled
	if errors.As(context.Cause(ctx), &s) {
		return s.sig
	}
	return nil
}
