package clinical

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fsenet/fsenet/repository/facts"
)

func TestDecodeRequest(t *testing.T) {
	day, err := parseDate("ge2024-03-15")
	if err != nil {
		t.Fatal(err)
	}
	good, _ := json.Marshal(request{V: protocolVersion, Token: "tok", Patient: "CF:RSSMRA80A01H501U",
		Query: Query{Type: facts.Observation, Codes: []Token{{System: facts.SystemLOINC, Code: "718-7"}}, Status: []string{"final"}, Dates: []DateBound{day}}})
	req, err := decodeRequest(good)
	if err != nil {
		t.Fatalf("a request a node sends: %v", err)
	}
	if req.Patient != "CF:RSSMRA80A01H501U" || req.Query.Type != facts.Observation || len(req.Query.Dates) != 1 ||
		!req.Query.Dates[0].From.Equal(day.From) || !req.Query.Dates[0].To.Equal(day.To) || req.Query.Codes[0].Code != "718-7" {
		t.Fatalf("decoded %+v", req)
	}
	summary, _ := json.Marshal(request{V: protocolVersion, Token: "tok", Patient: "CF:X"})
	if _, err := decodeRequest(summary); err != nil {
		t.Fatalf("a summary's request (every type): %v", err)
	}

	from := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)
	to := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)
	tests := []struct {
		name, body string
	}{
		{"nothing", ""},
		{"not JSON", "GET / HTTP/1.1"},
		{"truncated", `{"v":1,"token":"t","patient":"p"`},
		{"null", "null"},
		{"an array", `[1,2]`},
		{"a string", `"v"`},
		{"no version", `{"token":"t","patient":"p"}`},
		{"a later version", `{"v":2,"token":"t","patient":"p"}`},
		{"a version as a string", `{"v":"1","token":"t","patient":"p"}`},
		{"no token", `{"v":1,"patient":"p"}`},
		{"no patient", `{"v":1,"token":"t"}`},
		{"an unknown type", `{"v":1,"token":"t","patient":"p","query":{"type":"Patient"}}`},
		{"a type of the wrong kind", `{"v":1,"token":"t","patient":"p","query":{"type":7}}`},
		{"codes not a list", `{"v":1,"token":"t","patient":"p","query":{"codes":{"code":"x"}}}`},
		{"too many codes", `{"v":1,"token":"t","patient":"p","query":{"codes":[` + strings.TrimSuffix(strings.Repeat(`{"code":"x"},`, maxTokens+1), ",") + `]}}`},
		{"too many statuses", `{"v":1,"token":"t","patient":"p","query":{"status":[` + strings.TrimSuffix(strings.Repeat(`"final",`, maxTokens+1), ",") + `]}}`},
		{"a date without a range", `{"v":1,"token":"t","patient":"p","query":{"dates":[{"prefix":"eq"}]}}`},
		{"a date backwards", `{"v":1,"token":"t","patient":"p","query":{"dates":[{"prefix":"eq","from":"` + to + `","to":"` + from + `"}]}}`},
		{"a date with an unknown prefix", `{"v":1,"token":"t","patient":"p","query":{"dates":[{"prefix":"ap","from":"` + from + `","to":"` + to + `"}]}}`},
		{"a date not a time", `{"v":1,"token":"t","patient":"p","query":{"dates":[{"prefix":"eq","from":"2024","to":"2025"}]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeRequest([]byte(tt.body)); !errors.Is(err, ErrInvalid) {
				t.Fatalf("decodeRequest: %v, want ErrInvalid", err)
			}
		})
	}
}
