package telemed

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestDecodeRequestRefusesGarbage(t *testing.T) {
	tests := []struct{ name, in, says string }{
		{"not JSON", `{`, "telemed request"},
		{"another version", `{"v":2,"op":"slots","token":"t"}`, "version 2"},
		{"unknown operation", `{"v":1,"op":"delete","token":"t"}`, "unknown operation"},
		{"no token", `{"v":1,"op":"slots"}`, "token"},
		{"unknown field", `{"v":1,"op":"slots","token":"t","admin":true}`, "unknown field"},
		{"trailing data", `{"v":1,"op":"slots","token":"t"} {}`, "after the request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeRequest([]byte(tt.in)); err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("err %v, want one saying %q", err, tt.says)
			}
		})
	}
}

// Whatever a peer sends, DecodeRequest refuses it or yields a request of
// version 1, a known operation and a token, that encodes back to itself.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"v":1,"op":"book","token":"t","slot":"030-ab","patient":"CF:RSSMRA80A01H501U","client_key":"k-123456"}`))
	f.Add([]byte(`{"v":1,"op":"slots","token":"t","service":"030-tv","from":"2026-12-04T10:00:00Z"}`))
	f.Add([]byte(`{"v":1,"op":"cancel","token":"t","appointment":"030-x","eligibility":{"consent":true}}`))
	f.Add([]byte(`{"v":1,"op":"report","token":"t","encounter":"030-e","text":"referto","prestazioni":[{"Code":"89.01"}]}`))
	f.Add([]byte(`{"v":1,"op":"consult","token":"t","service":"030-tc","documents":["0123456789abcdef0123456789abcdef"]}`))
	f.Add([]byte(`{"v":1,"op":"session","token":"t","plan":"150-p","from":"2026-12-04T10:00:00Z","profession":"infermiere"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRequest(b)
		if err != nil {
			return
		}
		if r.V != 1 || r.Token == "" || !slices.Contains(ops, r.Op) {
			t.Fatalf("accepted %+v", r)
		}
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeRequest(out)
		if err != nil || again.Op != r.Op || again.Slot != r.Slot || again.Token != r.Token || !again.From.Equal(r.From) {
			t.Fatalf("round trip: %+v %v", again, err)
		}
	})
}
