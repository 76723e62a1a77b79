package federation

import (
	"runtime"
	"strings"
	"testing"
)

func TestBuildInfo(t *testing.T) {
	b := BuildInfo()
	if b.Version == "" || b.GoVersion != runtime.Version() || !strings.Contains(b.String(), runtime.Version()) {
		t.Fatalf("build %+v: %s", b, b)
	}
	for _, tt := range []struct {
		b    Build
		want string
	}{
		{Build{Version: "v1.2.0", GoVersion: "go1.26.0"}, "v1.2.0 (go1.26.0)"},
		{Build{Version: "devel", Revision: "1a2b3c4d5e6f", Modified: true, GoVersion: "go1.26.0"}, "devel (revision 1a2b3c4d5e6f, modified, go1.26.0)"},
	} {
		if got := tt.b.String(); got != tt.want {
			t.Errorf("%q, want %q", got, tt.want)
		}
	}
}
