package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/synth"
)

// embed turns a transaction whose document is in a Binary into the form
// of IHE's example: the document Bundle itself as the entry (POST
// Bundle), its bytes written as given.
func embed(t *testing.T, transaction, doc []byte) []byte {
	t.Helper()
	var tx struct {
		ResourceType string          `json:"resourceType"`
		Type         string          `json:"type"`
		Signature    json.RawMessage `json:"signature,omitempty"`
		Entry        []struct {
			FullURL  string          `json:"fullUrl"`
			Request  json.RawMessage `json:"request"`
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(transaction, &tx); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.WriteString(`{"resourceType":"Bundle","type":"transaction",`)
	if tx.Signature != nil {
		b.WriteString(`"signature":` + string(tx.Signature) + ",")
	}
	b.WriteString(`"entry":[`)
	for i, en := range tx.Entry {
		if i > 0 {
			b.WriteByte(',')
		}
		if bytes.Contains(en.Resource, []byte(`"resourceType":"Binary"`)) {
			b.WriteString(`{"fullUrl":"` + en.FullURL + `","request":{"method":"POST","url":"Bundle"},"resource":`)
			b.Write(doc)
			b.WriteString("}")
			continue
		}
		b.WriteString(`{"fullUrl":"` + en.FullURL + `","request":` + string(en.Request) + `,"resource":` + string(en.Resource) + "}")
	}
	b.WriteString("]}")
	return b.Bytes()
}

// ITI-65 with the document Bundle as the transaction's entry, as in IHE's
// example: its bytes — here indented, exactly as sent — are what is
// hashed, signed, stored and served.
func TestProvideEmbeddedFHIRDocument(t *testing.T) {
	e := newEnv(t)
	d := labDoc("emb-1")
	d.LocalID = "emb-1"
	var indented bytes.Buffer
	if err := json.Indent(&indented, synth.FHIRDocument(d), "", "  "); err != nil {
		t.Fatal(err)
	}
	doc := bytes.Clone(indented.Bytes())
	sig, err := SignDocument(e.prod, doc)
	if err != nil {
		t.Fatal(err)
	}
	send := func(bundle, hashOf []byte) (*http.Response, []byte) {
		return e.do(call{method: http.MethodPost, path: "/fhir", raw: bundle, contentType: "application/fhir+json",
			sig: func(c *federation.Claims) {
				h := sha256.Sum256(hashOf)
				c.AttachmentHash, c.ResourceHL7Type, c.PersonID = hex.EncodeToString(h[:]), "11502-2", samplePatient
			}})
	}
	bundle := embed(t, synth.ProvideBundle(d, doc, sig), doc)
	if resp, b := send(bundle, doc); resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"transaction-response"`) {
		t.Fatalf("embedded document: %d %s", resp.StatusCode, b)
	}
	got := e.indexed(d.ID())
	stored, err := e.store.ReadAll(got.Hash)
	if err != nil || !bytes.Equal(stored, doc) || got.MIME != "application/fhir+json" {
		t.Fatalf("stored %d bytes (%v), %s; want the %d sent", len(stored), err, got.MIME, len(doc))
	}

	// Compacted on the way, the bytes are not the ones signed.
	other := labDoc("emb-2")
	other.LocalID = "emb-2"
	odoc := synth.FHIRDocument(other)
	indented.Reset()
	json.Indent(&indented, odoc, "", " ")
	osig, _ := SignDocument(e.prod, indented.Bytes())
	if resp, b := send(embed(t, synth.ProvideBundle(other, odoc, osig), odoc), indented.Bytes()); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("document re-encoded after signing: %d %s", resp.StatusCode, b)
	}
	// A Binary and a Bundle: two documents.
	two := bytes.Replace(synth.ProvideBundle(other, odoc, osig), []byte(`"entry":[`), []byte(`"entry":[{"fullUrl":"urn:uuid:x","request":{"method":"POST","url":"Bundle"},"resource":`+string(odoc)+`},`), 1)
	if resp, b := send(two, odoc); resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "OperationOutcome") {
		t.Fatalf("two documents: %d %s", resp.StatusCode, b)
	}
	if _, ok, _ := e.entry(other.ID()); ok {
		t.Fatal("a refused document was indexed")
	}
	code, b := get(t, e.srv.URL+"/fhir/Binary/"+index.ResourceID(d.ID()), e.token(nil))
	if code != http.StatusOK || !bytes.Equal(b, doc) {
		t.Fatalf("Binary of the embedded document: %d, %d bytes, want %d: %.200s", code, len(b), len(doc), b)
	}
}

// IHE's own ITI-65 example (../shared/samples, not part of the
// repository) is read as a transaction carrying its document as a Bundle
// entry; its document is then refused for what makes it not an Italian
// one: a type that is not an FSE document type.
func TestIHEProvideExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "samples", "ihe-mhd", "provide-bundle-with-fhir-document.json"))
	if err != nil {
		t.Skipf("the IHE samples are not here (%v): this test runs beside ../shared/samples", err)
	}
	_, list, docRef, content, err := readProvideBundle(b)
	if err != nil || list.kind != "List" || docRef.kind != "DocumentReference" || content.kind != "Bundle" {
		t.Fatalf("IHE example: %v (entries %q %q %q)", err, list.kind, docRef.kind, content.kind)
	}
	if _, err := readFHIRDocument(content.Resource); err == nil || !strings.Contains(err.Error(), "28655-9") {
		t.Fatalf("the example's document: %v, want a refusal naming its type 28655-9", err)
	}
	// Through the endpoint: refused with an OperationOutcome (it carries
	// no producer signature), and nothing stored.
	e := newEnv(t)
	resp, body := e.do(call{method: http.MethodPost, path: "/fhir", raw: b, contentType: "application/fhir+json",
		sig: func(c *federation.Claims) {
			h := sha256.Sum256(content.Resource)
			c.AttachmentHash, c.ResourceHL7Type = hex.EncodeToString(h[:]), "11502-2"
		}})
	if resp.StatusCode/100 != 4 || !strings.Contains(string(body), "OperationOutcome") {
		t.Fatalf("IHE example through POST /fhir: %d %s", resp.StatusCode, body)
	}
	if st, _ := e.store.Stats(); st.Documents != 0 {
		t.Fatalf("%d documents stored", st.Documents)
	}
}
