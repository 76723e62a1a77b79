package main

import (
	"net/http"
	"strings"
	"testing"
)

func TestAuditVerify(t *testing.T) {
	tests := []struct {
		name string
		body string
		code int
		want string
	}{
		{"intact", `{"ok":true,"region":"030","applied_index":42,"batches":3,"events":17,"head":"abcd"}`, 0, "17 events"},
		{"broken", `{"ok":false,"region":"150","applied_index":42,"batches":1,"events":2,"head":"ab","error":"batch 1 missing"}`, 1, "region 150: batch 1 missing"},
		{"garbage", `{"ok":`, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := newFakeNode(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/v1/audit/verify" {
					writeOutcome(w, http.StatusNotFound, "not-found", "no route")
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(tt.body))
			})
			r := fsectl(t, node.env(), "audit", "verify")
			if r.code != tt.code || !strings.Contains(r.stdout+r.stderr, tt.want) {
				t.Fatalf("exit %d, output %q %q", r.code, r.stdout, r.stderr)
			}
		})
	}
}
