package federation

import (
	"runtime"
	"runtime/debug"
	"sync"
)

// Build is what a binary knows of its own build: its module version (a
// release tag, or "devel" for a build from a working tree), the source
// revision and whether the tree had local changes, and the Go version.
type Build struct {
	Version   string `json:"version"`
	Revision  string `json:"revision,omitempty"`
	Time      string `json:"time,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go_version"`
}

// String is the build as one line, e.g. "devel (revision 1a2b3c4d5e6f,
// modified, go1.26.0)".
func (b Build) String() string {
	s := b.Version + " ("
	if b.Revision != "" {
		s += "revision " + b.Revision
		if b.Modified {
			s += ", modified"
		}
		s += ", "
	}
	return s + b.GoVersion + ")"
}

var (
	buildOnce sync.Once
	build     Build
)

// BuildInfo reads the running binary's build.
func BuildInfo() Build {
	buildOnce.Do(func() {
		build = Build{Version: "devel", GoVersion: runtime.Version()}
		info, ok := debug.ReadBuildInfo()
		if !ok {
			return
		}
		if v := info.Main.Version; v != "" && v != "(devel)" {
			build.Version = v
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				build.Revision = s.Value[:min(12, len(s.Value))]
			case "vcs.time":
				build.Time = s.Value
			case "vcs.modified":
				build.Modified = s.Value == "true"
			}
		}
	})
	return build
}
