package main

import (
	"errors"
	"flag"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fsenet/fsenet/node"
)

// fsenodeExit runs the binary and returns its exit status and everything
// it wrote.
func fsenodeExit(t *testing.T, args ...string) (int, string) {
	t.Helper()
	out, err := exec.Command(fsenodeBin, args...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	case err != nil:
		t.Fatal(err)
	}
	return 0, string(out)
}

// Every command of fsenode exits with 2 on a usage error and says what is
// wrong (a missing required flag by its name), with 0 on -h, and takes
// flags after its arguments or refuses the argument with a reason.
func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no command", nil, 2, []string{"Usage:"}},
		{"-h", []string{"-h"}, 0, []string{"Usage:", "fsenode init"}},
		{"--help", []string{"--help"}, 0, []string{"Usage:"}},
		{"help", []string{"help"}, 0, []string{"Usage:"}},
		{"unknown command", []string{"frobnicate"}, 2, []string{`unknown command "frobnicate"`}},
		{"version", []string{"version"}, 0, []string{"fsenode "}},

		{"run -h", []string{"run", "-h"}, 0, []string{"Usage: fsenode run", "-shutdown-timeout"}},
		{"run --help after a flag", []string{"run", "--region", "030", "--help"}, 0, []string{"Usage: fsenode run"}},
		{"run unknown flag", []string{"run", "--regoin", "030"}, 2, []string{"flag provided but not defined: -regoin"}},
		{"run argument", []string{"run", "region.toml"}, 2, []string{`unexpected argument "region.toml": this command takes flags only`}},
		{"run flag after an argument", []string{"run", "x", "--region", "030"}, 2, []string{`unexpected argument "x"`}},
		{"run bad shutdown timeout", []string{"run", "--shutdown-timeout", "0s"}, 2, []string{"--shutdown-timeout"}},

		{"demo -h", []string{"demo", "-h"}, 0, []string{"Usage: fsenode demo", "resumes"}},
		{"demo region twice", []string{"demo", "--regions", "030,030"}, 2, []string{"030 given twice"}},
		{"demo bad region", []string{"demo", "--regions", "030,999"}, 2, []string{`"999" is not a region code`}},
		{"demo argument", []string{"demo", "now"}, 2, []string{`unexpected argument "now"`}},

		{"init -h", []string{"init", "-h"}, 0, []string{"Usage: fsenode init", "-founder"}},
		{"init without flags", []string{"init"}, 2, []string{"missing required flags --dir, --region", "--dir: the region's data directory"}},
		{"init without region", []string{"init", "--dir", filepath.Join(dir, "x")}, 2, []string{"missing required flag --region"}},
		{"init bad region", []string{"init", "--dir", filepath.Join(dir, "x"), "--region", "Lombardia"}, 2, []string{`--region "Lombardia": not a region code`}},
		{"init argument between flags", []string{"init", "--dir", filepath.Join(dir, "x"), "extra", "--region", "030"}, 2, []string{`unexpected argument "extra"`}},

		{"authority", []string{"authority"}, 2, []string{"Usage: fsenode authority COMMAND"}},
		{"authority -h", []string{"authority", "-h"}, 0, []string{"certify"}},
		{"authority unknown", []string{"authority", "crown"}, 2, []string{`unknown command "crown"`}},
		{"authority init -h", []string{"authority", "init", "-h"}, 0, []string{"Usage: fsenode authority init"}},
		{"authority init argument", []string{"authority", "init", "keys"}, 2, []string{`unexpected argument "keys"`}},
		{"certify -h", []string{"authority", "certify", "-h"}, 0, []string{"Usage: fsenode authority certify"}},
		{"certify without flags", []string{"authority", "certify"}, 2, []string{"missing required flags --region, --peer"}},
		{"certify without the key file", []string{"authority", "certify", "--region", "030", "--peer", "x", "--key", filepath.Join(dir, "none")}, 1, []string{"none"}},
		{"revoke -h", []string{"authority", "revoke", "-h"}, 0, []string{"Usage: fsenode authority revoke"}},
		{"revoke without reason", []string{"authority", "revoke", "--region", "030", "--peer", "x"}, 2, []string{"missing required flag --reason", "audit trail"}},
		{"promote -h", []string{"authority", "promote", "-h"}, 0, []string{"Usage: fsenode authority promote", "voter role"}},
		{"promote without cert", []string{"authority", "promote"}, 2, []string{"missing required flag --cert"}},
		{"demote without cert", []string{"authority", "demote", "--key", "k"}, 2, []string{"missing required flag --cert"}},

		{"token -h", []string{"token", "-h"}, 0, []string{"Usage: fsenode token"}},
		{"token without sub", []string{"token", "--idp-key", "idp.key", "--region", "030"}, 2, []string{"missing required flag --sub"}},
		{"token without key", []string{"token", "--sub", "X", "--region", "030"}, 2, []string{"exactly one of --idp-key and --authority-key"}},
		{"token idp key without region", []string{"token", "--sub", "X", "--idp-key", "idp.key"}, 2, []string{"--region is required with --idp-key"}},

		{"restore -h", []string{"restore", "-h"}, 0, []string{"Usage: fsenode restore"}},
		{"restore without snapshot", []string{"restore"}, 2, []string{"missing argument BACKUP|SNAPSHOT"}},
		{"restore two arguments", []string{"restore", "a.snap", "b.snap"}, 2, []string{`unexpected argument "b.snap"`}},
		{"restore flag after the argument", []string{"restore", filepath.Join(dir, "a.snap"), "--config", filepath.Join(dir, "absent.toml")}, 1, []string{"absent.toml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := fsenodeExit(t, tt.args...)
			if code != tt.code {
				t.Fatalf("fsenode %s: exit %d, want %d:\n%s", strings.Join(tt.args, " "), code, tt.code, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Fatalf("fsenode %s: output does not say %q:\n%s", strings.Join(tt.args, " "), w, out)
				}
			}
		})
	}
}

// helpFlags reads the flags of a command's help as flag.PrintDefaults
// writes them: each flag's name and the text under it.
func helpFlags(help string) map[string]string {
	out := map[string]string{}
	name := ""
	for _, l := range strings.Split(help, "\n") {
		switch {
		case strings.HasPrefix(l, "  -"):
			name = strings.Fields(l)[0][1:]
			out[name] = ""
		case name != "" && strings.HasPrefix(l, "    \t"):
			out[name] += strings.TrimSpace(l)
		default:
			name = ""
		}
	}
	return out
}

// The help of every command names each flag with its description and,
// where the flag has one, its default.
func TestHelpDescribesEveryFlag(t *testing.T) {
	tests := []struct {
		cmd      []string
		defaults map[string]string // flag: its default as the help shows it
	}{
		{[]string{"run"}, map[string]string{"shutdown-timeout": "15s", "http.listen": `"127.0.0.1:8080"`,
			"repository.max_document_mib": `"64"`, "telemed.escalate_after": `"15m0s"`, "log.level": `"info"`}},
		{[]string{"demo"}, map[string]string{"regions": `"030,150,160"`}},
		{[]string{"init"}, nil},
		{[]string{"authority", "init"}, map[string]string{"dir": `"."`}},
		{[]string{"authority", "certify"}, map[string]string{"key": `"authority.key"`, "role": `"nonvoter"`, "valid": "8760h0m0s"}},
		{[]string{"authority", "revoke"}, map[string]string{"key": `"authority.key"`}},
		{[]string{"authority", "promote"}, map[string]string{"valid": "8760h0m0s"}},
		{[]string{"authority", "demote"}, map[string]string{"valid": "8760h0m0s"}},
		{[]string{"token"}, map[string]string{"role": `"AAS"`, "purpose": `"TREATMENT"`, "ttl": "1h0m0s"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.cmd, " "), func(t *testing.T) {
			code, out := fsenodeExit(t, append(tt.cmd, "-h")...)
			if code != 0 || !strings.HasPrefix(out, "Usage: fsenode "+strings.Join(tt.cmd, " ")) {
				t.Fatalf("exit %d:\n%s", code, out)
			}
			flags := helpFlags(out)
			if len(flags) == 0 {
				t.Fatalf("no flags in the help:\n%s", out)
			}
			for name, text := range flags {
				what, _, _ := strings.Cut(text, "(env ")
				if strings.TrimSpace(what) == "" {
					t.Errorf("flag -%s has no description:\n%s", name, out)
				}
			}
			for name, def := range tt.defaults {
				if !strings.Contains(flags[name], "(default "+def+")") {
					t.Errorf("flag -%s: the help does not show its default %s: %q", name, def, flags[name])
				}
			}
		})
	}
}

// Every configuration key, a flag of run (and restore), has a
// description of its own in the help. (A key described here before it
// exists is harmless: its description waits for it.)
func TestConfigKeysDescribed(t *testing.T) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var cfg node.Config
	registerConfigFlags(fs, &cfg)
	fs.VisitAll(func(f *flag.Flag) {
		if _, ok := configKeyHelp[f.Name]; !ok {
			t.Errorf("configuration key %s has no description: add it to configKeyHelp", f.Name)
		}
		if !strings.Contains(f.Usage, node.EnvName(f.Name)) {
			t.Errorf("-%s: the help does not name %s: %q", f.Name, node.EnvName(f.Name), f.Usage)
		}
	})
}

// The parser of every command: flags before, between and after the
// arguments; the required ones named when missing; "--" ends the flags.
func TestCmdLineParse(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		pos     []string
		wantErr string // "" for none
	}{
		{"flags before", []string{"--a", "1", "--b", "2", "FILE"}, []string{"FILE"}, ""},
		{"flags after", []string{"FILE", "--a", "1", "--b", "2"}, []string{"FILE"}, ""},
		{"flags around", []string{"--a", "1", "FILE", "--b", "2"}, []string{"FILE"}, ""},
		{"dash dash", []string{"--a", "1", "--b", "2", "--", "-FILE"}, []string{"-FILE"}, ""},
		{"missing flag", []string{"FILE", "--b", "2"}, nil, "missing required flag --a\n  --a: the a"},
		{"missing flags", []string{"FILE"}, nil, "missing required flags --a, --b"},
		{"missing argument", []string{"--a", "1", "--b", "2"}, nil, "missing argument FILE"},
		{"extra argument", []string{"FILE", "--a", "1", "MORE", "--b", "2"}, nil, `unexpected argument "MORE" after FILE`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := newCmdLine("test", "--a A --b B FILE", "", "FILE")
			cl.fs.String("a", "", "the a")
			cl.fs.String("b", "", "the b")
			cl.require("a", "b")
			pos, err := cl.parse(tt.args)
			if tt.wantErr == "" {
				if err != nil || !slices.Equal(pos, tt.pos) {
					t.Fatalf("got %q, %v; want %q", pos, err, tt.pos)
				}
				return
			}
			var ue *usageError
			if !errors.Is(err, errUsage) || !errors.As(err, &ue) || ue.cmd != "test" || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v; want a usage error of test saying %q", err, tt.wantErr)
			}
		})
	}
}

// init's next steps are the right ones for the region: a founder is
// certified as a voter and its configuration bootstraps the federation;
// any other region is told to set join; both end with the command that
// starts the node.
func TestInitNextSteps(t *testing.T) {
	tests := []struct {
		name    string
		founder bool
		want    []string
		not     []string
	}{
		{"founder", true, []string{"--role voter", "bootstrap = true", "fsenode run --config "}, []string{"join"}},
		{"joining region", false, []string{"--role nonvoter", "set [p2p] join", "fsenode run --config "}, []string{"bootstrap = true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "region")
			args := []string{"init", "--dir", dir, "--region", "030"}
			if tt.founder {
				args = append(args, "--founder")
			}
			code, out := fsenodeExit(t, args...)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("the next steps do not say %q:\n%s", w, out)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(out, w) {
					t.Errorf("the next steps say %q:\n%s", w, out)
				}
			}
			if !strings.Contains(out, "fsenode run --config "+filepath.Join(dir, "region.toml")) {
				t.Errorf("the next steps do not start this region's configuration:\n%s", out)
			}
			cfg, err := node.Load(filepath.Join(dir, "region.toml"))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Raft.Bootstrap != tt.founder {
				t.Fatalf("region.toml: bootstrap = %v, want %v", cfg.Raft.Bootstrap, tt.founder)
			}
		})
	}
}
