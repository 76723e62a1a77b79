// Command fsectl is the client of an fsenet node's HTTP API for the
// region's operators and the national authority. It reads the state of the
// Raft cluster, checks that the regions' replicas agree, saves a snapshot
// of the node's store, and submits membership certificates and revocations
// signed by the authority (see "fsenode authority").
//
//	fsectl [--node URL] [--token TOKEN] [--json] cluster status
//	fsectl [--node URL] [--token TOKEN] [--json] cluster digest
//	fsectl [--node URL] [--token TOKEN] [--json] snapshot save [--force] FILE
//	fsectl [--node URL] [--token TOKEN] [--json] backup save [--force] DIR
//	fsectl [--node URL] [--token TOKEN] [--json] backup check
//	fsectl [--node URL] [--token TOKEN] [--json] region add CERTFILE
//	fsectl [--node URL] [--token TOKEN] [--json] region revoke FILE
//	fsectl [--node URL] [--token TOKEN] [--json] audit verify
//	fsectl [--node URL] [--token TOKEN] [--json] query FILE
//
// The node defaults to $FSENET_NODE, else http://127.0.0.1:8030; the bearer
// token to $FSENET_TOKEN. fsectl never prints the token, not even in a
// flag's default or in an error the node sends back.
//
// Exit status: 0 on success, 1 when a command fails (the node refused it,
// could not be reached, or the replicas do not agree), 2 on a usage error.
// fsectl holds no state and never writes anywhere but the FILE of
// "snapshot save" and the DIR of "backup save".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/fsenet/fsenet/federation"
)

const defaultNode = "http://127.0.0.1:8030"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const globalUsage = `fsectl: the operator's and the authority's client of an fsenet node

Usage:
  fsectl [--node URL] [--token TOKEN] [--json] COMMAND ...

Commands:
  cluster status          the Raft leader, term, indexes and every region's state
  cluster digest          every region's store digest; exit status 1 unless all agree
  snapshot save FILE      save the node's snapshot into FILE (--force overwrites)
  backup save DIR         save the region's backup (state and documents) into DIR
  backup check            list the region's index entries without their document; exit 1 if any
  region add CERTFILE     admit a region with its membership certificate
  region revoke FILE      submit the authority's revocation of a region's node
  audit verify            recompute the audit trail's hash chain on the node; exit 1 if broken
  history CF --out DIR    save a patient's history from every region, with contents; exit 1 if partial
  query FILE              ask every region a population question (authority); exit 1 if partial

  version                 this program's version (also --version)

Global flags (also accepted after the command words):
  --node URL      the node's base URL (default $FSENET_NODE, else ` + defaultNode + `)
  --token TOKEN   bearer token (default $FSENET_TOKEN); never printed
  --json          print the node's JSON instead of a table

Run "fsectl COMMAND -h" for a command's flags.
`

// options are the values of the command line's flags.
type options struct {
	node  string
	token string
	json  bool
	force bool
	out   string
}

// bindGlobal defines the global flags on fs, with the values already set
// as their defaults, so that they can be given before or after the
// command words.
func (o *options) bindGlobal(fs *flag.FlagSet) {
	fs.StringVar(&o.node, "node", o.node, "the node's base `URL` ($FSENET_NODE)")
	fs.Var(secretFlag{&o.token}, "token", "bearer `TOKEN` ($FSENET_TOKEN); never printed")
	fs.BoolVar(&o.json, "json", o.json, "print the node's JSON instead of a table")
}

// secretFlag is a string flag whose value flag never shows, not even as the
// default in a usage message.
type secretFlag struct{ p *string }

func (s secretFlag) String() string     { return "" }
func (s secretFlag) Set(v string) error { *s.p = v; return nil }

// command is one of fsectl's two-word commands.
type command struct {
	group, name string
	args        []string // names of the positional arguments, all required
	summary     string   // what it does, for its usage message
	force       bool     // it takes --force
	out         bool     // it takes --out DIR
	run         func(ctx context.Context, a *app, args []string) error
}

func (c *command) words() string {
	if c.name == "" {
		return c.group
	}
	return c.group + " " + c.name
}

var commands = []*command{
	{group: "cluster", name: "status", run: clusterStatusCmd,
		summary: "Print the Raft leader, term and indexes as the node sees them, and a table\nof the regions: role, Raft membership and state, indexes, certificate expiry."},
	{group: "cluster", name: "digest", run: clusterDigestCmd,
		summary: "Print every region's store digest at the cluster's digest index and say\nwhether the replicas agree. Exit status 1 when they do not, or when a region\ncould not be asked; the message on stderr names the region."},
	{group: "snapshot", name: "save", args: []string{"FILE"}, force: true, run: snapshotSaveCmd,
		summary: "Stream the node's snapshot into FILE. The data goes to a temporary file in\nFILE's directory, is synced, then renamed: FILE is whole or absent, never\npartial. An existing FILE is kept unless --force is given."},
	{group: "backup", name: "save", args: []string{"DIR"}, force: true, run: backupSaveCmd, summary: backupSaveSummary},
	{group: "backup", name: "check", run: backupCheckCmd, summary: backupCheckSummary},
	{group: "region", name: "add", args: []string{"CERTFILE"}, run: regionAddCmd,
		summary: "Submit a region's membership certificate (a JWT signed by the national\nauthority, as written by \"fsenode authority certify\") and print the\nregion's record as the federation accepted it."},
	{group: "audit", name: "verify", run: auditVerifyCmd,
		summary: "Ask the node to recompute the audit trail's hash chain from its replica.\nExit status 1 when a batch is missing, changed or out of order."},
	{group: "history", args: []string{"CF"}, out: true, run: historyCmd,
		summary: "Save a patient's history from every region (GET /fhir/Patient/{id}/$everything\nwith contents) into --out DIR: bundle.json, each document's content, and\nindex.tsv. CF is the codice fiscale (or STP/ENI code). A partial answer (a\nregion unreachable or refusing) is saved, and the exit status is 1."},
	{group: "query", args: []string{"FILE"}, run: queryCmd, summary: querySummary},
	{group: "region", name: "revoke", args: []string{"FILE"}, run: regionRevokeCmd,
		summary: "Submit a revocation (a JWT signed by the national authority, as written by\n\"fsenode authority revoke\") and print the result."},
}

// app is what a command runs with.
type app struct {
	opts   options
	client *client
	stdout io.Writer
	stderr io.Writer
}

// run runs fsectl with args (without the program's name), reading the
// environment through getenv, and returns the process's exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	opts := options{node: getenv("FSENET_NODE"), token: getenv("FSENET_TOKEN")}
	if opts.node == "" {
		opts.node = defaultNode
	}
	if len(args) > 0 && (args[0] == "--version" || args[0] == "version") {
		fmt.Fprintln(stdout, "fsectl "+federation.BuildInfo().String())
		return 0
	}
	global := flag.NewFlagSet("fsectl", flag.ContinueOnError)
	global.SetOutput(stderr)
	global.Usage = func() { fmt.Fprint(stderr, globalUsage) }
	opts.bindGlobal(global)
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	rest := global.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, globalUsage)
		return 2
	}
	if rest[0] == "help" {
		fmt.Fprint(stderr, globalUsage)
		return 0
	}
	cmd, code := findCommand(rest, stderr)
	if cmd == nil {
		return code
	}

	fs := flag.NewFlagSet("fsectl "+cmd.words(), flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		synopsis := "fsectl [--node URL] [--token TOKEN] [--json] " + cmd.words()
		if cmd.force {
			synopsis += " [--force]"
		}
		if cmd.out {
			synopsis += " --out DIR"
		}
		for _, a := range cmd.args {
			synopsis += " " + a
		}
		fmt.Fprintf(stderr, "Usage: %s\n\n%s\n\nFlags:\n", synopsis, cmd.summary)
		fs.PrintDefaults()
	}
	opts.bindGlobal(fs)
	if cmd.force {
		fs.BoolVar(&opts.force, "force", false, "overwrite FILE if it exists")
	}
	if cmd.out {
		fs.StringVar(&opts.out, "out", "", "the directory to save into (required)")
	}
	words := 2
	if cmd.name == "" {
		words = 1
	}
	pos, err := parseInterleaved(fs, rest[words:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(pos) != len(cmd.args) {
		fmt.Fprintf(stderr, "fsectl %s: want %d argument(s) (%s), got %d\n\n", cmd.words(), len(cmd.args), strings.Join(cmd.args, " "), len(pos))
		fs.Usage()
		return 2
	}
	if cmd.out && opts.out == "" {
		fmt.Fprintf(stderr, "fsectl %s: missing required flag --out DIR (the directory to save into)\n\n", cmd.words())
		fs.Usage()
		return 2
	}
	opts.token = strings.TrimSpace(opts.token)
	c, err := newClient(opts.node, opts.token)
	if err != nil {
		fmt.Fprintf(stderr, "fsectl: %v\n", err)
		return 2
	}
	defer c.close()

	a := &app{opts: opts, client: c, stdout: stdout, stderr: stderr}
	if err := cmd.run(ctx, a, pos); err != nil {
		msg := err.Error()
		if opts.token != "" {
			// The node may quote the request back; the token stays secret.
			msg = strings.ReplaceAll(msg, opts.token, "[token]")
		}
		var re *requestError
		if errors.As(err, &re) {
			fmt.Fprintf(stderr, "fsectl: %s\n", msg)
		} else {
			fmt.Fprintf(stderr, "fsectl %s: %s\n", cmd.words(), msg)
		}
		return 1
	}
	return 0
}

// findCommand finds the command named by the first two words of args. When
// there is none it prints why, with the usage, and returns the exit status.
func findCommand(args []string, stderr io.Writer) (*command, int) {
	group := args[0]
	var names []string
	for _, c := range commands {
		if c.group != group {
			continue
		}
		if c.name == "" {
			return c, 0
		}
		names = append(names, c.name)
		if len(args) > 1 && args[1] == c.name {
			return c, 0
		}
	}
	switch {
	case len(names) == 0:
		fmt.Fprintf(stderr, "fsectl: unknown command %q\n\n", group)
	case len(args) == 1:
		fmt.Fprintf(stderr, "fsectl %s: missing command (%s)\n\n", group, strings.Join(names, ", "))
	case args[1] == "-h" || args[1] == "--help" || args[1] == "-help" || args[1] == "help":
		fmt.Fprint(stderr, globalUsage)
		return nil, 0
	default:
		fmt.Fprintf(stderr, "fsectl %s: unknown command %q (%s)\n\n", group, args[1], strings.Join(names, ", "))
	}
	fmt.Fprint(stderr, globalUsage)
	return nil, 2
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments, which it returns. Everything after "--" is
// positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
