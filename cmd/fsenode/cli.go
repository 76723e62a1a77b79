package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// The command line of every fsenode command follows the same rules:
//
//   - a usage error (an unknown flag, a missing required flag, an argument
//     too many or too few) exits with status 2 and says what is wrong;
//   - -h, -help and --help print the command's help and exit with 0;
//   - flags may come before, between or after the arguments ("--" ends
//     the flags);
//   - the help names every flag with its description and its default.

// errUsage marks a usage error: main exits with status 2.
var errUsage = errors.New("usage")

// usageError is a usage error with its reason, which main prints with
// the command's name.
type usageError struct{ cmd, msg string }

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Is(target error) bool { return target == errUsage }

// usagef is a usage error of the command cmd ("init", "authority certify").
func usagef(cmd, format string, args ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, args...)}
}

// usageOutput is where help and usage errors go.
var usageOutput io.Writer = os.Stderr

// cmdLine is one command's flags, arguments and help.
type cmdLine struct {
	name     string // "init", "authority certify"
	synopsis string // after "fsenode NAME"
	about    string // what the command does, for its help
	args     []string
	required []string
	fs       *flag.FlagSet
}

// newCmdLine makes the command line of "fsenode NAME SYNOPSIS"; args
// names its positional arguments, all required.
func newCmdLine(name, synopsis, about string, args ...string) *cmdLine {
	c := &cmdLine{name: name, synopsis: synopsis, about: about, args: args,
		fs: flag.NewFlagSet("fsenode "+name, flag.ContinueOnError)}
	c.fs.SetOutput(usageOutput)
	c.fs.Usage = c.help
	return c
}

// require makes flags required: parse refuses a command line without them.
func (c *cmdLine) require(names ...string) { c.required = append(c.required, names...) }

func (c *cmdLine) help() {
	w := c.fs.Output()
	fmt.Fprintf(w, "Usage: fsenode %s %s\n", c.name, c.synopsis)
	if c.about != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.about))
	}
	n := 0
	c.fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(w, "\nFlags:")
		c.fs.PrintDefaults()
	}
}

// parse parses args and returns the positional arguments. -h returns
// flag.ErrHelp after printing the help; a usage error returns an error
// that is errUsage.
func (c *cmdLine) parse(args []string) ([]string, error) {
	pos, err := parseInterleaved(c.fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil, flag.ErrHelp
	}
	if err != nil {
		// The flag package has printed what is wrong and the help.
		return nil, errUsage
	}
	given := map[string]bool{}
	c.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var missing, what []string
	for _, name := range c.required {
		if !given[name] {
			missing = append(missing, "--"+name)
			what = append(what, fmt.Sprintf("\n  --%s: %s", name, c.fs.Lookup(name).Usage))
		}
	}
	switch {
	case len(missing) == 1:
		return nil, usagef(c.name, "missing required flag %s%s", missing[0], what[0])
	case len(missing) > 1:
		return nil, usagef(c.name, "missing required flags %s%s", strings.Join(missing, ", "), strings.Join(what, ""))
	case len(pos) > len(c.args):
		extra := pos[len(c.args)]
		if len(c.args) == 0 {
			return nil, usagef(c.name, "unexpected argument %q: this command takes flags only", extra)
		}
		return nil, usagef(c.name, "unexpected argument %q after %s", extra, strings.Join(c.args, " "))
	case len(pos) < len(c.args):
		return nil, usagef(c.name, "missing argument %s", strings.Join(c.args[len(pos):], " "))
	}
	return pos, nil
}

// parseInterleaved parses flags that may come before, between or after
// the positional arguments, which it returns. Everything after "--" is
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

// wantsHelp reports whether args ask for help before any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}
