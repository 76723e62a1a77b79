package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/fsenet/fsenet/index/ident"
)

// maxHistory bounds a history's answer (its contents are inline).
const maxHistory = 96 << 20

// historyCmd saves a patient's history from every region into a
// directory: bundle.json (the node's answer), one file per document
// content, and index.tsv (id, type, date, status, custodian, file). A
// partial answer (a region unreachable or refusing) is saved too, and
// the command then exits with status 1 naming the regions.
func historyCmd(ctx context.Context, a *app, args []string) error {
	id, err := ident.Parse(args[0])
	if err != nil {
		return err
	}
	if a.opts.out == "" {
		return errors.New("--out DIR is required")
	}
	resp, err := a.client.do(ctx, a.client.stream, "GET", "/fhir/Patient/"+id.Kind.String()+"-"+id.Value+"/$everything?_content=true", "application/fhir+json", "", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxHistory+1))
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	if len(raw) > maxHistory {
		return fmt.Errorf("the answer is larger than %d bytes", maxHistory)
	}
	var bundle struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(raw, &bundle); err != nil {
		return fmt.Errorf("the node's answer is not a FHIR Bundle: %v", err)
	}
	if err := os.MkdirAll(a.opts.out, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(a.opts.out, "bundle.json"), raw, 0o600); err != nil {
		return err
	}
	type docRef struct {
		ID               string `json:"id"`
		Status           string `json:"status"`
		Date             string `json:"date"`
		MasterIdentifier struct {
			Value string `json:"value"`
		} `json:"masterIdentifier"`
		Type struct {
			Coding []struct {
				Code string `json:"code"`
			} `json:"coding"`
		} `json:"type"`
		Custodian struct {
			Identifier struct {
				Value string `json:"value"`
			} `json:"identifier"`
		} `json:"custodian"`
	}
	var docs []docRef
	files := map[string]string{}
	var partial []string
	safe := regexp.MustCompile(`[^A-Za-z0-9._-]`)
	for _, e := range bundle.Entry {
		var probe struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
			ContentType  string `json:"contentType"`
			Data         string `json:"data"`
			Issue        []struct {
				Diagnostics string `json:"diagnostics"`
			} `json:"issue"`
		}
		if json.Unmarshal(e.Resource, &probe) != nil {
			continue
		}
		switch probe.ResourceType {
		case "DocumentReference":
			var d docRef
			if json.Unmarshal(e.Resource, &d) == nil {
				docs = append(docs, d)
			}
		case "Binary":
			b, err := base64.StdEncoding.DecodeString(probe.Data)
			if err != nil {
				return fmt.Errorf("Binary %s: %v", probe.ID, err)
			}
			ext := ".bin"
			switch {
			case strings.Contains(probe.ContentType, "pdf"):
				ext = ".pdf"
			case strings.Contains(probe.ContentType, "json"):
				ext = ".json"
			case strings.Contains(probe.ContentType, "xml"):
				ext = ".xml"
			}
			name := safe.ReplaceAllString(probe.ID, "_") + ext
			if err := os.WriteFile(filepath.Join(a.opts.out, name), b, 0o600); err != nil {
				return err
			}
			files[probe.ID] = name
		case "OperationOutcome":
			for _, is := range probe.Issue {
				partial = append(partial, is.Diagnostics)
			}
		}
	}
	var tsv strings.Builder
	tsv.WriteString("id\ttype\tdate\tstatus\tfile\n")
	for _, d := range docs {
		code := ""
		if len(d.Type.Coding) > 0 {
			code = d.Type.Coding[0].Code
		}
		fmt.Fprintf(&tsv, "%s\t%s\t%s\t%s\t%s\n", d.MasterIdentifier.Value, code, d.Date, d.Status, files[d.ID])
	}
	if err := os.WriteFile(filepath.Join(a.opts.out, "index.tsv"), []byte(tsv.String()), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "patient %s: %d documents, %d contents saved in %s\n", id.Value, len(docs), len(files), a.opts.out)
	if len(partial) > 0 {
		return errors.New("partial history: " + strings.Join(partial, "; "))
	}
	return nil
}
