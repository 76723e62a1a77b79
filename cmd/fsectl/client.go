package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"
)

const (
	// apiTimeout bounds a whole JSON call, from connecting to the last byte.
	apiTimeout = 30 * time.Second
	// headerTimeout bounds the wait for a response's headers; a snapshot's
	// body then streams for as long as it takes.
	headerTimeout = 30 * time.Second
	// maxJSONBody caps an answer read into memory.
	maxJSONBody = 16 << 20
	// maxErrorBody caps an error answer read to describe it.
	maxErrorBody = 64 << 10
	// excerptLen is how much of a body that is not an OperationOutcome an
	// error message shows.
	excerptLen = 200
)

// client calls one node's HTTP API.
type client struct {
	base   string // the node's URL, without a trailing slash
	shown  string // base with any password hidden, for messages
	token  string
	tr     *http.Transport
	api    *http.Client // JSON calls: apiTimeout overall
	stream *http.Client // streams: headerTimeout only
}

func newClient(node, token string) (*client, error) {
	u, err := url.Parse(node)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--node %q: not an http:// or https:// URL", node)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("--node %q: the node's base URL takes no query or fragment", node)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = headerTimeout
	return &client{
		base:   strings.TrimRight(u.String(), "/"),
		shown:  strings.TrimRight(u.Redacted(), "/"),
		token:  token,
		tr:     tr,
		api:    &http.Client{Transport: tr, Timeout: apiTimeout},
		stream: &http.Client{Transport: tr},
	}, nil
}

// close releases the client's idle connections.
func (c *client) close() { c.tr.CloseIdleConnections() }

// requestError is a failed call to the node: it could not be reached, it
// answered with an error status, or its answer could not be read.
type requestError struct {
	Method string
	Path   string
	Status int    // the HTTP status, 0 when there was no answer
	Msg    string // what went wrong, for the operator
	Err    error  // the underlying error, if any
}

func (e *requestError) Error() string { return e.Method + " " + e.Path + ": " + e.Msg }
func (e *requestError) Unwrap() error { return e.Err }

// do sends a request to the node with the bearer token and returns the
// response when its status is 2xx; the caller closes its body. Any failure
// is a *requestError.
func (c *client) do(ctx context.Context, hc *http.Client, method, path, accept, contentType string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, &requestError{Method: method, Path: path, Msg: err.Error(), Err: err}
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "fsectl")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, c.statusError(method, path, resp)
	}
	return resp, nil
}

// transportError explains why there is no answer from the node.
func (c *client) transportError(ctx context.Context, method, path string, err error) error {
	e := &requestError{Method: method, Path: path, Err: err}
	cause := err
	var ue *url.Error
	if errors.As(err, &ue) {
		cause = ue.Err // without the URL, which the message names once
	}
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case ctx.Err() != nil:
		e.Msg = "interrupted"
		e.Err = ctx.Err()
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Msg = fmt.Sprintf("cannot connect to the node at %s: connection refused (is fsenode running there? --node or $FSENET_NODE selects the node)", c.shown)
	case errors.As(err, &dnsErr):
		e.Msg = fmt.Sprintf("cannot find the host of the node at %s: %v", c.shown, dnsErr)
	case errors.As(err, &netErr) && netErr.Timeout():
		e.Msg = fmt.Sprintf("no answer in time from the node at %s: %v", c.shown, cause)
	default:
		e.Msg = fmt.Sprintf("cannot reach the node at %s: %v", c.shown, cause)
	}
	return e
}

// statusError describes an answer with an error status from its
// OperationOutcome, or from the start of its body.
func (c *client) statusError(method, path string, resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	msg := resp.Status
	if text := http.StatusText(resp.StatusCode); text != "" {
		msg = fmt.Sprintf("%d %s", resp.StatusCode, text)
	}
	if d := describeErrorBody(raw); d != "" {
		msg += ": " + d
	}
	if resp.StatusCode == http.StatusUnauthorized {
		if c.token == "" {
			msg += " (hint: no token given; set --token or $FSENET_TOKEN)"
		} else {
			msg += " (hint: the token from --token or $FSENET_TOKEN was not accepted)"
		}
	}
	return &requestError{Method: method, Path: path, Status: resp.StatusCode, Msg: msg}
}

// operationOutcome is the FHIR resource in which the node reports every
// error.
type operationOutcome struct {
	ResourceType string `json:"resourceType"`
	Issue        []struct {
		Severity    string `json:"severity"`
		Code        string `json:"code"`
		Diagnostics string `json:"diagnostics"`
		Details     *struct {
			Text string `json:"text"`
		} `json:"details"`
	} `json:"issue"`
}

// describeErrorBody returns the diagnostics of an OperationOutcome, or the
// start of any other body, cleaned for a terminal; "" for an empty body.
func describeErrorBody(raw []byte) string {
	var oo operationOutcome
	if json.Unmarshal(raw, &oo) == nil && oo.ResourceType == "OperationOutcome" && len(oo.Issue) > 0 {
		var parts []string
		for _, is := range oo.Issue {
			d := is.Diagnostics
			if d == "" && is.Details != nil {
				d = is.Details.Text
			}
			if d == "" {
				d = is.Code
			}
			if d = strings.TrimSpace(clean(d)); d != "" {
				parts = append(parts, d)
			}
		}
		if len(parts) > 0 {
			return excerpt([]byte(strings.Join(parts, "; ")), maxErrorBody)
		}
	}
	return excerpt(raw, excerptLen)
}

// excerpt returns at most the first n bytes of b, cut on a character
// boundary, cleaned for a terminal, with "..." when cut.
func excerpt(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	cut := false
	if len(b) > n {
		i := n
		for i > 0 && !utf8.RuneStart(b[i]) {
			i-- // do not split a character
		}
		b, cut = b[:i], true
	}
	s := clean(string(b))
	if cut {
		s += "..."
	}
	return s
}

// clean makes text from the node safe to print: no control characters, no
// invalid UTF-8.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// getJSON GETs path and decodes the answer into v. It returns the raw
// answer too, for --json.
func (c *client) getJSON(ctx context.Context, path string, v any) ([]byte, error) {
	return c.callJSON(ctx, http.MethodGet, path, "", nil, v)
}

// callJSON sends a request expecting a JSON answer, decodes it into v
// unless v is nil, and returns the raw answer.
func (c *client) callJSON(ctx context.Context, method, path, contentType string, body []byte, v any) ([]byte, error) {
	resp, err := c.do(ctx, c.api, method, path, "application/json", contentType, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxJSONBody+1))
	if err != nil {
		return nil, c.transportError(ctx, method, path, fmt.Errorf("reading the answer: %w", err))
	}
	if len(raw) > maxJSONBody {
		return nil, &requestError{Method: method, Path: path, Status: resp.StatusCode,
			Msg: fmt.Sprintf("the answer is larger than %d bytes", maxJSONBody)}
	}
	if v == nil {
		return raw, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, &requestError{Method: method, Path: path, Status: resp.StatusCode, Err: err,
			Msg: fmt.Sprintf("the node's answer is not the expected JSON (%v): %q", err, excerpt(raw, excerptLen))}
	}
	return raw, nil
}

// printJSON prints the node's JSON answer, indented.
func printJSON(w io.Writer, raw []byte) error {
	var buf bytes.Buffer
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = []byte("null")
	}
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return fmt.Errorf("the node's answer is not JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := buf.WriteTo(w)
	return err
}
