package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
)

// maxTokenFile caps the size of a certificate or revocation file.
const maxTokenFile = 1 << 20

// regionRecord is a region as the federation admitted it.
type regionRecord struct {
	Code   string   `json:"code"`
	Name   string   `json:"name"`
	Peer   string   `json:"peer"`
	Role   string   `json:"role"`
	Addrs  []string `json:"addrs"`
	Expiry string   `json:"expiry"`
}

func regionAddCmd(ctx context.Context, a *app, args []string) error {
	tok, err := readToken(args[0])
	if err != nil {
		return err
	}
	var rec regionRecord
	raw, err := a.client.callJSON(ctx, http.MethodPost, "/v1/federation/regions", "application/jwt", tok, &rec)
	if err != nil {
		return err
	}
	if a.opts.json {
		return printJSON(a.stdout, raw)
	}
	if rec.Code == "" {
		return &requestError{Method: http.MethodPost, Path: "/v1/federation/regions",
			Msg: fmt.Sprintf("the node's answer is not a region record: %q", excerpt(raw, excerptLen))}
	}
	fmt.Fprintf(a.stdout, "region %s added\n", clean(rec.Code))
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "code:\t%s\n", cell(rec.Code))
	fmt.Fprintf(tw, "name:\t%s\n", cell(rec.Name))
	fmt.Fprintf(tw, "peer:\t%s\n", cell(rec.Peer))
	fmt.Fprintf(tw, "role:\t%s\n", cell(rec.Role))
	fmt.Fprintf(tw, "addrs:\t%s\n", cell(strings.Join(rec.Addrs, ", ")))
	fmt.Fprintf(tw, "expiry:\t%s\n", cell(rec.Expiry))
	return tw.Flush()
}

func regionRevokeCmd(ctx context.Context, a *app, args []string) error {
	tok, err := readToken(args[0])
	if err != nil {
		return err
	}
	const path = "/v1/federation/revocations"
	raw, err := a.client.callJSON(ctx, http.MethodPost, path, "application/jwt", tok, nil)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		if a.opts.json {
			return printJSON(a.stdout, nil)
		}
		fmt.Fprintln(a.stdout, "revocation accepted")
		return nil
	}
	var result any
	if err := json.Unmarshal(raw, &result); err != nil {
		return &requestError{Method: http.MethodPost, Path: path, Err: err,
			Msg: fmt.Sprintf("the node's answer is not JSON (%v): %q", err, excerpt(raw, excerptLen))}
	}
	if a.opts.json {
		return printJSON(a.stdout, raw)
	}
	fmt.Fprintln(a.stdout, "revocation accepted")
	return printFields(a.stdout, result)
}

// printFields prints a JSON object as "key: value" lines in key order, and
// any other JSON value as it is.
func printFields(w io.Writer, v any) error {
	obj, ok := v.(map[string]any)
	if !ok {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, clean(string(b)))
		return err
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, k := range keys {
		var s string
		switch x := obj[k].(type) {
		case string:
			s = x
		case nil:
			s = ""
		default:
			b, err := json.Marshal(x)
			if err != nil {
				return err
			}
			s = string(b)
		}
		fmt.Fprintf(tw, "%s:\t%s\n", clean(k), cell(s))
	}
	return tw.Flush()
}

// readToken reads a JWT from file, as written by "fsenode authority": one
// compact token, surrounding white space ignored.
func readToken(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxTokenFile {
		return nil, fmt.Errorf("%s: larger than %d bytes, not a certificate or revocation", file, maxTokenFile)
	}
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return nil, fmt.Errorf("%s is empty", file)
	case bytes.Count(b, []byte(".")) != 2 || bytes.ContainsAny(b, " \t\r\n"):
		return nil, errors.New(file + ": not a JWT (one token header.payload.signature, as written by fsenode authority)")
	}
	return b, nil
}
