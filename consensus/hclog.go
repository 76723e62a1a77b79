package consensus

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// hclogAdapter lets hashicorp/raft (and raft-wal) log through slog, so
// their lines carry the node's attributes (region, component) like every
// other line. The hclog logger's name goes under "subsystem" (raft,
// raft-net, ...): the node's logger has set "component" already. Values
// are made readable: hclog.Fmt arguments formatted, durations as strings
// ("1.5s"), Raft's servers and configurations summarised instead of
// dumped as JSON objects. Messages Raft logs as warnings or errors during
// a normal start or join are logged at info (see normalLevel).
type hclogAdapter struct {
	l       *slog.Logger
	name    string
	args    []any
	level   hclog.Level
	joining *joining // shared by the loggers made from this one
}

func newHclog(l *slog.Logger, name string) hclog.Logger {
	return &hclogAdapter{l: l, name: name, level: hclog.Info, joining: &joining{since: map[string]time.Time{}}}
}

func toSlog(level hclog.Level) slog.Level {
	switch level {
	case hclog.Trace, hclog.Debug:
		return slog.LevelDebug
	case hclog.Info:
		return slog.LevelInfo
	case hclog.Warn:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

func (a *hclogAdapter) Log(level hclog.Level, msg string, args ...any) {
	if level < a.level {
		return
	}
	attrs := make([]any, 0, 2+len(a.args)+len(args))
	if a.name != "" {
		attrs = append(attrs, "subsystem", a.name)
	}
	attrs = appendArgs(attrs, a.args)
	attrs = appendArgs(attrs, args)
	a.joining.note(msg, args)
	a.l.Log(context.Background(), a.joining.level(normalLevel(toSlog(level), msg, args), msg, args), msg, attrs...)
}

// renamedKeys are Raft's keys that a JSON line holds already: the
// record's own and the node's.
var renamedKeys = map[string]string{
	"time": "elapsed", "level": "raft-level", "msg": "raft-msg", "source": "raft-source",
	"region": "raft-region", "component": "raft-component", "subsystem": "raft-subsystem",
}

// appendArgs appends hclog's key/value pairs to attrs as slog pairs with
// readable values; keys are made of no spaces ("backoff time" becomes
// "backoff-time") and never repeat the line's own ("time" becomes
// "elapsed"), and a value without a key goes under "extra".
func appendArgs(attrs, args []any) []any {
	for i := 0; i < len(args); i += 2 {
		if i+1 == len(args) {
			attrs = append(attrs, "extra", logValue(args[i]))
			break
		}
		key, ok := args[i].(string)
		if !ok {
			key = fmt.Sprint(args[i])
		}
		key = strings.ReplaceAll(key, " ", "-")
		if k, ok := renamedKeys[key]; ok {
			key = k
		}
		attrs = append(attrs, key, logValue(args[i+1]))
	}
	return attrs
}

// logValue renders one of Raft's values for a JSON log line: never a
// struct dumped as an object, a format string left unformatted or a
// duration as an integer of nanoseconds.
func logValue(v any) any {
	switch t := v.(type) {
	case nil, string, bool, int, int32, int64, uint, uint32, uint64, float32, float64:
		return v
	case error:
		return t.Error()
	case hclog.Format:
		if len(t) == 0 {
			return ""
		}
		format, ok := t[0].(string)
		if !ok {
			return fmt.Sprint(t...)
		}
		// raft formats servers and configurations with %+v: summarised.
		if len(t) == 2 && (format == "%+v" || format == "%v") {
			if s, ok := summary(t[1]); ok {
				return s
			}
		}
		return fmt.Sprintf(format, t[1:]...)
	case hclog.Hex:
		return fmt.Sprintf("0x%x", int(t))
	case hclog.Octal:
		return fmt.Sprintf("0%o", int(t))
	case hclog.Binary:
		return fmt.Sprintf("0b%b", int(t))
	case hclog.Quote:
		return strconv.Quote(string(t))
	case time.Duration:
		return t.String()
	case time.Time:
		return t
	}
	if s, ok := summary(v); ok {
		return s
	}
	if s, ok := v.(fmt.Stringer); ok {
		return s.String()
	}
	switch reflect.Indirect(reflect.ValueOf(v)).Kind() {
	case reflect.Struct, reflect.Map, reflect.Slice, reflect.Array:
		return fmt.Sprintf("%+v", v)
	}
	return v
}

// summary renders Raft's servers and configurations as a line such as
// "030 voter 12D3KooW…, 150 nonvoter 12D3KooW…". A server alone (the peer
// of a replication) is its ID and address: Raft keeps the suffrage it had
// when its replication started, which a promotion does not update.
func summary(v any) (string, bool) {
	switch t := v.(type) {
	case raft.Server:
		return string(t.ID) + " " + string(t.Address), true
	case *raft.Server:
		if t == nil {
			return "", true
		}
		return summary(*t)
	case []raft.Server:
		parts := make([]string, len(t))
		for i, s := range t {
			parts[i] = fmt.Sprintf("%s %s %s", s.ID, strings.ToLower(s.Suffrage.String()), s.Address)
		}
		return strings.Join(parts, ", "), true
	case raft.Configuration:
		return summary(t.Servers)
	case *raft.Configuration:
		if t == nil {
			return "", true
		}
		return summary(t.Servers)
	}
	return "", false
}

// normalLevel lowers to info the warnings Raft logs for what happens in
// every normal start and join; the same messages in other circumstances
// keep their level.
func normalLevel(level slog.Level, msg string, args []any) slog.Level {
	if level != slog.LevelWarn {
		return level
	}
	switch msg {
	case "heartbeat timeout reached, starting election":
		// The first election of a node that has never known a leader
		// (the federation starting) is no loss of a leader.
		if leader, _ := argOf(args, "last-leader-id").(raft.ServerID); leader == "" {
			return slog.LevelInfo
		}
	case "no known peers, aborting election":
		// A joining node runs Raft before the leader adds it: it has no
		// configuration yet and waits.
		return slog.LevelInfo
	case "failed to get previous log":
		// A follower behind the leader (a new one has an empty log) tells
		// the leader, which sends older entries or a snapshot.
		prev, _ := argOf(args, "previous-index").(uint64)
		last, _ := argOf(args, "last-index").(uint64)
		if last < prev {
			return slog.LevelInfo
		}
	case "appendEntries rejected, sending older logs":
		// The leader's side of the same catch-up.
		return slog.LevelInfo
	}
	return level
}

// joining follows, on a leader, the servers just added as non-voters: a
// joining node is added before it has the join's answer, so until then it
// refuses the leader's connections (it does not know the members yet).
// The leader's replication errors for such a server are logged at info
// until replication to it first succeeds ("pipelining replication"), for
// joinGrace at most: a server that stays unreachable is an error again.
type joining struct {
	mu    sync.Mutex
	since map[string]time.Time // server ID and address → when added
}

const joinGrace = 30 * time.Second

// note records the servers added as non-voters and those replicated to.
func (j *joining) note(msg string, args []any) {
	switch msg {
	case "updating configuration":
		if cmd, ok := argOf(args, "command").(raft.ConfigurationChangeCommand); !ok || cmd != raft.AddNonvoter {
			return
		}
		id, _ := argOf(args, "server-id").(raft.ServerID)
		addr, _ := argOf(args, "server-addr").(raft.ServerAddress)
		j.mu.Lock()
		now := time.Now()
		for k := range j.since {
			if now.Sub(j.since[k]) > joinGrace {
				delete(j.since, k)
			}
		}
		j.since[string(id)], j.since[string(addr)] = now, now
		j.mu.Unlock()
	case "pipelining replication":
		if s, ok := argOf(args, "peer").(raft.Server); ok {
			j.mu.Lock()
			delete(j.since, string(s.ID))
			delete(j.since, string(s.Address))
			j.mu.Unlock()
		}
	}
}

// level lowers to info a replication error for a server still joining.
func (j *joining) level(level slog.Level, msg string, args []any) slog.Level {
	if level < slog.LevelWarn {
		return level
	}
	switch msg {
	case "failed to appendEntries to", "failed to heartbeat to", "failed to start pipeline replication to", "failed to pipeline appendEntries":
	default:
		return level
	}
	var key string
	switch p := argOf(args, "peer").(type) {
	case raft.Server:
		key = string(p.ID)
	case raft.ServerAddress:
		key = string(p)
	default:
		return level
	}
	j.mu.Lock()
	added, ok := j.since[key]
	j.mu.Unlock()
	if ok && time.Since(added) <= joinGrace {
		return slog.LevelInfo
	}
	return level
}

// argOf is the value of key among hclog's key/value pairs (nil if none).
func argOf(args []any, key string) any {
	for i := 0; i+1 < len(args); i += 2 {
		if k, ok := args[i].(string); ok && k == key {
			return args[i+1]
		}
	}
	return nil
}

func (a *hclogAdapter) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }
func (a *hclogAdapter) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }
func (a *hclogAdapter) Info(msg string, args ...any)  { a.Log(hclog.Info, msg, args...) }
func (a *hclogAdapter) Warn(msg string, args ...any)  { a.Log(hclog.Warn, msg, args...) }
func (a *hclogAdapter) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }
func (a *hclogAdapter) IsTrace() bool                 { return a.level <= hclog.Trace }
func (a *hclogAdapter) IsDebug() bool                 { return a.level <= hclog.Debug }
func (a *hclogAdapter) IsInfo() bool                  { return a.level <= hclog.Info }
func (a *hclogAdapter) IsWarn() bool                  { return a.level <= hclog.Warn }
func (a *hclogAdapter) IsError() bool                 { return a.level <= hclog.Error }
func (a *hclogAdapter) ImpliedArgs() []any            { return a.args }
func (a *hclogAdapter) With(args ...any) hclog.Logger {
	c := *a
	c.args = append(a.args[:len(a.args):len(a.args)], args...)
	return &c
}
func (a *hclogAdapter) Name() string { return a.name }
func (a *hclogAdapter) Named(name string) hclog.Logger {
	c := *a
	if c.name != "" {
		c.name += "." + name
	} else {
		c.name = name
	}
	return &c
}
func (a *hclogAdapter) ResetNamed(name string) hclog.Logger {
	c := *a
	c.name = name
	return &c
}
func (a *hclogAdapter) SetLevel(level hclog.Level) { a.level = level }
func (a *hclogAdapter) GetLevel() hclog.Level      { return a.level }
func (a *hclogAdapter) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(a.StandardWriter(opts), "", 0)
}
func (a *hclogAdapter) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		a.Info(strings.TrimSpace(string(p)))
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
