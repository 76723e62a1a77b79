package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/fsenet/fsenet/federation"
)

// Client publishes through a region's gateway as producer software does:
// the operator's bearer token from the region's IdP, and for each request
// an FSE-JWT-Signature token signed with the producer's own key, its
// claims bound to the request. The demo and the benchmarks use it.
type Client struct {
	BaseURL string // the node, e.g. http://127.0.0.1:8080
	Bearer  string // the operator's token (the region's IdP)
	// Key signs the FSE-JWT-Signature tokens and the FHIR documents; its
	// public part is registered for Issuer.
	Key    jwk.Key
	Issuer string
	// Claims of the signature tokens: the operator's codice fiscale,
	// role, region and organisation (as in the bearer token), and the
	// locality: the producer's structure code, which the gateway keeps as
	// the author organisation of a document that names none.
	Subject, Role, Region, Organization, Locality string
	HTTP                                          *http.Client
}

// Answer is a gateway answer: its status and body.
type Answer struct {
	Status int
	Body   []byte
}

// OK reports whether the status is 2xx.
func (a Answer) OK() bool { return a.Status >= 200 && a.Status < 300 }

func (a Answer) String() string { return fmt.Sprintf("%d %s", a.Status, bytes.TrimSpace(a.Body)) }

// WorkflowID is the answer's workflowInstanceId, if any.
func (a Answer) WorkflowID() string {
	var v struct {
		W string `json:"workflowInstanceId"`
	}
	_ = json.Unmarshal(a.Body, &v)
	return v.W
}

// Request is one gateway call's binding: the file (or FHIR document) it
// carries, its type and its patient.
type Request struct {
	Action    string // CREATE, UPDATE, DELETE
	Content   []byte // the file's (or FHIR document's) bytes, hashed into attachment_hash
	LOINC     string // resource_hl7_type
	PatientCF string // person_id
}

func (c *Client) signature(b Request) (string, error) {
	now := time.Now().UTC().Truncate(time.Second)
	cl := federation.Claims{Issuer: c.Issuer, Subject: c.Subject, IssuedAt: now, Expiry: now.Add(10 * time.Minute),
		SubjectRole: c.Role, OrganizationID: c.Region, Organization: c.Organization, Locality: c.Locality, PurposeOfUse: "TREATMENT", ActionID: b.Action}
	if b.Content != nil {
		h := sha256.Sum256(b.Content)
		cl.AttachmentHash = hex.EncodeToString(h[:])
	}
	if b.LOINC != "" {
		cl.ResourceHL7Type = "('" + b.LOINC + "^^2.16.840.1.113883.6.1')"
	}
	if b.PatientCF != "" {
		cl.PersonID = b.PatientCF + "^^^&2.16.840.1.113883.2.9.4.3.2&ISO"
	}
	return federation.IssueToken(c.Key, cl)
}

// Do sends one request: a multipart form (requestBody and file) when pdf
// is set, else body as JSON (metadata updates) or nothing.
func (c *Client) Do(ctx context.Context, method, path string, body any, pdf []byte, b Request) (Answer, error) {
	var buf bytes.Buffer
	ct := ""
	switch {
	case pdf != nil:
		mw := multipart.NewWriter(&buf)
		rb, err := json.Marshal(body)
		if err != nil {
			return Answer{}, err
		}
		if err := mw.WriteField("requestBody", string(rb)); err != nil {
			return Answer{}, err
		}
		fw, err := mw.CreateFormFile("file", "documento.pdf")
		if err != nil {
			return Answer{}, err
		}
		fw.Write(pdf)
		mw.Close()
		ct = mw.FormDataContentType()
		b.Content = pdf
	case body != nil:
		raw, err := json.Marshal(body)
		if err != nil {
			return Answer{}, err
		}
		buf.Write(raw)
		ct = "application/json"
	}
	return c.send(ctx, method, path, ct, buf.Bytes(), b)
}

// ProvideFHIR publishes a FHIR document with IHE MHD ITI-65: bundle is the
// transaction (with the document's signature), doc the document's bytes.
func (c *Client) ProvideFHIR(ctx context.Context, bundle, doc []byte, loinc, patientCF string) (Answer, error) {
	return c.send(ctx, http.MethodPost, "/fhir", "application/fhir+json", bundle,
		Request{Action: string(actionCreate), Content: doc, LOINC: loinc, PatientCF: patientCF})
}

func (c *Client) send(ctx context.Context, method, path, ct string, body []byte, b Request) (Answer, error) {
	sig, err := c.signature(b)
	if err != nil {
		return Answer{}, err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return Answer{}, err
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Authorization", "Bearer "+c.Bearer)
	req.Header.Set(HeaderSignature, sig)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Answer{}, err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return Answer{Status: resp.StatusCode, Body: rb}, err
}

// Publication returns a requestBody for a publication of document local
// of region with the given class, as a hospital would send it.
func Publication(region, local, class string) map[string]any {
	return map[string]any{"healthDataFormat": "CDA", "mode": "ATTACHMENT", "tipologiaStruttura": "Ospedale",
		"tipoDocumentoLivAlto": class, "assettoOrganizzativo": "AD_PSC001", "tipoAttivitaClinica": "CON",
		"identificativoSottomissione": "sub-" + local, "identificativoDoc": fmt.Sprintf("2.16.840.1.113883.2.9.2.%s.4.4^%s", region, local),
		"identificativoRep": "2.16.840.1.113883.2.9.2." + region + ".4.5.1"}
}
