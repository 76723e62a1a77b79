package pades

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var signingTime = testNow.Add(-time.Hour)

// signedDoc is a one-page PDF signed by id with pdfcpu's CMS signer.
func signedDoc(t testing.TB, id identity, padding int) *pdfDoc {
	t.Helper()
	d := newDoc(padding)
	d.sign(t, sigOpts{field: "Firma1", cms: pdfcpuCMS(t, id, signingTime, true)})
	return d
}

func rules(ps []Problem) []string {
	var out []string
	for _, p := range ps {
		if !slices.Contains(out, p.Rule) {
			out = append(out, p.Rule)
		}
	}
	slices.Sort(out)
	return out
}

func TestVerify(t *testing.T) {
	p := newPKI(t)
	cfg := testConfig(p)
	optional := cfg
	optional.Policy = Optional
	multiple := cfg
	multiple.MultipleSignatures = true
	bare := cfg
	bare.Roots = x509.NewCertPool()

	modified := signedDoc(t, p.leaf, 0).bytes()
	i := bytes.Index(modified, []byte("13.5 g/dL"))
	copy(modified[i:], "15.3")

	cases := []struct {
		name string
		pdf  func() []byte
		cfg  Config
		want []string // rule ids, sorted; none: the PDF passes
		// check, if set, looks at the result of a passing PDF.
		check func(t *testing.T, r Result)
	}{
		{"valid CAdES signature", func() []byte { return signedDoc(t, p.leaf, 0).bytes() }, cfg, nil,
			func(t *testing.T, r Result) {
				if !r.Signed || r.Signer == nil || !strings.Contains(r.Signer.Subject, "Maria Rossi") ||
					!strings.Contains(r.Signer.Issuer, "Regione Test CA") || r.Signer.Serial.Cmp(p.leaf.cert.SerialNumber) != 0 {
					t.Fatalf("signer %+v", r.Signer)
				}
				if !r.SigningTime.Equal(signingTime) || r.TimeSource != TimeFromCMS {
					t.Fatalf("signing time %v from %s", r.SigningTime, r.TimeSource)
				}
				if len(r.Signer.Chain) != 3 || len(r.Signatures) != 1 || !r.Signatures[0].Valid || r.Signatures[0].Appended ||
					r.Signatures[0].Field != "Firma1" || r.Signatures[0].SubFilter != subFilterCAdES {
					t.Fatalf("chain %d, signatures %+v", len(r.Signer.Chain), r.Signatures)
				}
			}},
		{"valid adbe.pkcs7.detached signature", func() []byte {
			d := newDoc(0)
			d.sign(t, sigOpts{field: "Firma1", subFilter: subFilterDetached, cms: pdfcpuCMS(t, p.leaf, signingTime, false)})
			return d.bytes()
		}, cfg, nil, nil},
		{"signing time from /M only", func() []byte {
			d := newDoc(0)
			d.sign(t, sigOpts{field: "Firma1", m: "D:20261001100000Z", cms: pdfcpuCMS(t, p.leaf, time.Time{}, true)})
			return d.bytes()
		}, cfg, nil, func(t *testing.T, r Result) {
			if r.TimeSource != TimeFromPDF || !r.SigningTime.Equal(testNow.Add(-2*time.Hour)) {
				t.Fatalf("signing time %v from %s", r.SigningTime, r.TimeSource)
			}
		}},
		{"no signing time: checked now", func() []byte {
			d := newDoc(0)
			d.sign(t, sigOpts{field: "Firma1", cms: pdfcpuCMS(t, p.leaf, time.Time{}, true)})
			return d.bytes()
		}, cfg, nil, func(t *testing.T, r Result) {
			if r.TimeSource != TimeNone || !r.SigningTime.Equal(testNow) {
				t.Fatalf("signing time %v from %s", r.SigningTime, r.TimeSource)
			}
		}},
		{"signature timestamp", func() []byte {
			d := newDoc(0)
			d.sign(t, sigOpts{field: "Firma1", cms: handCMS(p.leaf, nil, signingTime, &p.tsa, signingTime.Add(time.Minute))})
			return d.bytes()
		}, cfg, nil, func(t *testing.T, r Result) {
			if r.TimeSource != TimeFromTimestamp || !r.SigningTime.Equal(signingTime.Add(time.Minute)) {
				t.Fatalf("signing time %v from %s", r.SigningTime, r.TimeSource)
			}
		}},
		{"signature timestamp by an untrusted TSA", func() []byte {
			d := newDoc(0)
			d.sign(t, sigOpts{field: "Firma1", cms: handCMS(p.leaf, nil, signingTime, &p.rogueTSA, signingTime)})
			return d.bytes()
		}, cfg, []string{RuleTimestamp}, nil},
		{"modified after signing", func() []byte { return modified }, cfg, []string{RuleDigest}, nil},
		{"appended update changing the content", func() []byte {
			d := signedDoc(t, p.leaf, 0)
			d.write(map[int]string{4: streamObj("", []byte("BT /F1 14 Tf 56 780 Td (Referto di laboratorio - emoglobina 9.1 g/dL) Tj ET"))}, true)
			return d.bytes()
		}, cfg, []string{RuleAppended}, nil},
		{"appended update adding an annotation", func() []byte {
			d := signedDoc(t, p.leaf, 0)
			n := d.newObj()
			d.extra = append(d.extra, n)
			d.write(map[int]string{
				n: "<< /Type /Annot /Subtype /FreeText /Rect [56 760 400 800] /Contents (valore corretto: 9.1) /DA (/F1 14 Tf) >>",
				3: d.page(),
			}, true)
			return d.bytes()
		}, cfg, []string{RuleAppended}, nil},
		{"appended bytes that are no update", func() []byte {
			return append(signedDoc(t, p.leaf, 0).bytes(), "% note appended by hand\n"...)
		}, cfg, []string{RuleAppended}, nil},
		{"appended validation data (DSS)", func() []byte {
			d := signedDoc(t, p.leaf, 0)
			d.addDSS(p.leaf.cert, p.inter.cert)
			return d.bytes()
		}, cfg, nil, func(t *testing.T, r Result) {
			if !r.Signatures[0].Appended {
				t.Fatal("the DSS update is not reported as appended")
			}
		}},
		{"appended document timestamp and DSS (PAdES-LTA)", func() []byte {
			d := signedDoc(t, p.leaf, 0)
			d.addDSS(p.leaf.cert, p.inter.cert, p.tsa.cert)
			d.sign(t, sigOpts{field: "Marca1", docTS: true, cms: docTimestamp(p.tsa, testNow.Add(-time.Minute))})
			return d.bytes()
		}, cfg, nil, func(t *testing.T, r Result) {
			if len(r.Signatures) != 2 || !r.Signatures[1].DocumentTimestamp || !r.Signatures[1].Valid ||
				r.Signatures[1].TimeSource != TimeFromTimestamp || r.Signer == nil || !strings.Contains(r.Signer.Subject, "Maria Rossi") {
				t.Fatalf("signatures %+v", r.Signatures)
			}
		}},
		{"document timestamp with a visible appearance", func() []byte {
			d := signedDoc(t, p.leaf, 0)
			d.sign(t, sigOpts{field: "Marca1", docTS: true, visible: true, cms: docTimestamp(p.tsa, testNow)})
			return d.bytes()
		}, cfg, []string{RuleAppended}, nil},
		{"document timestamp by an untrusted TSA", func() []byte {
			d := signedDoc(t, p.leaf, 0)
			d.sign(t, sigOpts{field: "Marca1", docTS: true, cms: docTimestamp(p.rogueTSA, testNow)})
			return d.bytes()
		}, cfg, []string{RuleTimestamp}, nil},
		{"expired certificate", func() []byte { return signedDoc(t, p.expired, 0).bytes() }, cfg, []string{RuleCertTime}, nil},
		{"certificate not yet valid", func() []byte { return signedDoc(t, p.future, 0).bytes() }, cfg, []string{RuleCertTime}, nil},
		{"untrusted CA", func() []byte { return signedDoc(t, p.rogue, 0).bytes() }, cfg, []string{RuleUntrusted}, nil},
		{"empty trust list", func() []byte { return signedDoc(t, p.leaf, 0).bytes() }, bare, []string{RuleUntrusted}, nil},
		{"certificate not for signatures", func() []byte { return signedDoc(t, p.leafNoSign, 0).bytes() }, cfg, []string{RuleCMS}, nil},
		{"signature by another key", func() []byte {
			d := newDoc(0)
			d.sign(t, sigOpts{field: "Firma1", cms: handCMS(p.leaf, p.rogue.key, signingTime, nil, time.Time{})})
			return d.bytes()
		}, cfg, []string{RuleCMS}, nil},
		{"CAdES without signing-certificate-v2", func() []byte {
			d := newDoc(0)
			d.sign(t, sigOpts{field: "Firma1", cms: pdfcpuCMS(t, p.leaf, signingTime, false)})
			return d.bytes()
		}, cfg, []string{RuleCMS}, nil},
		{"garbage in /Contents", func() []byte {
			d := newDoc(0)
			d.sign(t, sigOpts{field: "Firma1", cms: func([]byte) []byte { return []byte("not a CMS") }})
			return d.bytes()
		}, cfg, []string{RuleCMS}, nil},
		{"signing time in the future", func() []byte {
			d := newDoc(0)
			d.sign(t, sigOpts{field: "Firma1", cms: pdfcpuCMS(t, p.leaf, testNow.Add(24*time.Hour), true)})
			return d.bytes()
		}, cfg, []string{RuleFutureTime}, nil},
		{"unsupported SubFilter", func() []byte {
			d := newDoc(0)
			d.sign(t, sigOpts{field: "Firma1", subFilter: "adbe.pkcs7.sha1", cms: pdfcpuCMS(t, p.leaf, signingTime, true)})
			return d.bytes()
		}, cfg, []string{RuleSubFilter}, nil},
		{"byte range short of the revision's end", func() []byte {
			d := newDoc(0)
			d.sign(t, sigOpts{field: "Firma1", cms: pdfcpuCMS(t, p.leaf, signingTime, true), byteRange: func(br *[4]int) { br[3] -= 20 }})
			return d.bytes()
		}, cfg, []string{RuleByteRange}, nil},
		{"byte range leaving out more than /Contents", func() []byte {
			d := newDoc(0)
			d.sign(t, sigOpts{field: "Firma1", cms: pdfcpuCMS(t, p.leaf, signingTime, true), byteRange: func(br *[4]int) { br[2] += 3; br[3] -= 3 }})
			return d.bytes()
		}, cfg, []string{RuleByteRange}, nil},
		{"byte range not from the start", func() []byte {
			d := newDoc(0)
			d.sign(t, sigOpts{field: "Firma1", cms: pdfcpuCMS(t, p.leaf, signingTime, true), byteRange: func(br *[4]int) { br[0] = 10; br[1] -= 10 }})
			return d.bytes()
		}, cfg, []string{RuleByteRange}, nil},
		{"two signatures", func() []byte {
			d := signedDoc(t, p.leaf, 0)
			d.sign(t, sigOpts{field: "Firma2", cms: pdfcpuCMS(t, p.leaf, signingTime.Add(time.Minute), true)})
			return d.bytes()
		}, cfg, []string{RuleMultiple}, nil},
		{"two visible signatures, accepted", func() []byte {
			d := newDoc(0)
			d.sign(t, sigOpts{field: "Firma1", visible: true, cms: pdfcpuCMS(t, p.leaf, signingTime, true)})
			d.sign(t, sigOpts{field: "Firma2", visible: true, cms: pdfcpuCMS(t, p.leaf, signingTime.Add(time.Minute), true)})
			return d.bytes()
		}, multiple, nil, func(t *testing.T, r Result) {
			if len(r.Signatures) != 2 || !r.Signatures[0].Appended || r.Signatures[1].Appended {
				t.Fatalf("signatures %+v", r.Signatures)
			}
		}},
		{"second signature hiding a change", func() []byte {
			d := signedDoc(t, p.leaf, 0)
			d.write(map[int]string{4: streamObj("", []byte("BT /F1 14 Tf 56 780 Td (tutto nella norma) Tj ET"))}, true)
			d.sign(t, sigOpts{field: "Firma2", cms: pdfcpuCMS(t, p.leaf, signingTime, true)})
			return d.bytes()
		}, multiple, []string{RuleAppended}, nil},
		{"unsigned, required", func() []byte { return newDoc(0).bytes() }, cfg, []string{RuleUnsigned}, nil},
		{"unsigned, optional", func() []byte { return newDoc(0).bytes() }, optional, nil, func(t *testing.T, r Result) {
			if r.Signed || r.Signer != nil || len(r.Signatures) != 0 {
				t.Fatalf("result %+v", r)
			}
		}},
		{"bad signature, optional", func() []byte { return modified }, optional, []string{RuleDigest}, nil},
		{"document timestamp only, required", func() []byte {
			d := newDoc(0)
			d.sign(t, sigOpts{field: "Marca1", docTS: true, cms: docTimestamp(p.tsa, testNow)})
			return d.bytes()
		}, cfg, []string{RuleUnsigned}, nil},
		{"not a PDF", func() []byte { return []byte("<ClinicalDocument/>") }, cfg, []string{RuleUnreadable}, nil},
		{"empty", func() []byte { return nil }, cfg, []string{RuleUnreadable}, nil},
		{"truncated PDF", func() []byte { return []byte("%PDF-1.7\n1 0 obj\n<< /Type /Catalog") }, cfg, []string{RuleUnreadable}, nil},
		{"too large", func() []byte { return signedDoc(t, p.leaf, 0).bytes() }, Config{Policy: Required, Roots: p.roots, MaxBytes: 100}, []string{RuleUnreadable}, nil},
		{"invalid configuration", func() []byte { return signedDoc(t, p.leaf, 0).bytes() }, Config{Policy: "maybe"}, []string{RuleConfiguration}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, problems := Verify(c.pdf(), c.cfg)
			if got := rules(problems); !slices.Equal(got, c.want) {
				t.Fatalf("rules %v, want %v; problems %v", got, c.want, problems)
			}
			for _, p := range problems {
				if !strings.HasPrefix(p.String(), p.Rule+": ") || p.Message == "" {
					t.Fatalf("problem %q", p)
				}
			}
			if c.check != nil {
				c.check(t, res)
			}
		})
	}
}

// A change after an allowed update (DSS) is found all the same, and
// named.
func TestVerifyChangeAfterDSS(t *testing.T) {
	p := newPKI(t)
	d := signedDoc(t, p.leaf, 0)
	d.addDSS(p.leaf.cert)
	d.write(map[int]string{5: "<< /Type /Font /Subtype /Type1 /BaseFont /Courier >>"}, true)
	_, problems := Verify(d.bytes(), testConfig(p))
	if got := rules(problems); !slices.Equal(got, []string{RuleAppended}) || !strings.Contains(problems[0].Message, "object 5 (a /Font) changed") {
		t.Fatalf("problems %v", problems)
	}
}

func TestParsePolicy(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Policy
		ok   bool
	}{{"required", Required, true}, {" Optional ", Optional, true}, {"", "", false}, {"always", "", false}} {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParsePolicy(c.in)
			if got != c.want || (err == nil) != c.ok {
				t.Fatalf("ParsePolicy(%q) = %q, %v", c.in, got, err)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		edit func(*Config)
	}{
		{"no policy", func(c *Config) { c.Policy = "" }},
		{"no trust list", func(c *Config) { c.Roots = nil }},
		{"negative size", func(c *Config) { c.MaxBytes = -1 }},
		{"negative skew", func(c *Config) { c.MaxClockSkew = -time.Second }},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			c.edit(&cfg)
			if cfg.Validate() == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestLoadTrustList(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("roots.pem", append([]byte("# fsenet test roots\n"), p.rootPEM...))
	pool, err := LoadTrustList(good)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(p)
	cfg.Roots = pool
	if _, problems := Verify(signedDoc(t, p.leaf, 0).bytes(), cfg); len(problems) != 0 {
		t.Fatalf("with the loaded trust list: %v", problems)
	}
	for _, c := range []struct{ name, content string }{
		{"empty", ""},
		{"no PEM", "hello"},
		{"a key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"},
		{"bad certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := LoadTrustList(write(c.name+".pem", []byte(c.content))); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := LoadTrustList(filepath.Join(dir, "missing.pem")); err == nil {
		t.Fatal("a missing file was accepted")
	}
}

// Every rule id is in the package doc's table.
func TestRulesDocumented(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{RuleUnsigned, RuleUnreadable, RuleSubFilter, RuleByteRange, RuleDigest, RuleAppended,
		RuleCMS, RuleUntrusted, RuleCertTime, RuleFutureTime, RuleMultiple, RuleTimestamp, RuleConfiguration} {
		if !bytes.Contains(doc, []byte("| "+r+" ")) {
			t.Errorf("%s is not in the package doc's table", r)
		}
	}
}

func FuzzVerify(f *testing.F) {
	p := newPKI(f)
	d := signedDoc(f, p.leaf, 0)
	f.Add(d.bytes())
	d.addDSS(p.leaf.cert)
	d.sign(f, sigOpts{field: "Marca1", docTS: true, cms: docTimestamp(p.tsa, testNow)})
	f.Add(d.bytes())
	d.write(map[int]string{4: streamObj("", []byte("BT ET"))}, true)
	f.Add(d.bytes())
	f.Add(newDoc(0).bytes())
	f.Add([]byte("%PDF-1.7\n%%EOF\n"))
	cfg := testConfig(p)
	f.Fuzz(func(t *testing.T, pdf []byte) {
		res, problems := Verify(pdf, cfg)
		if len(problems) == 0 && !res.Signed {
			t.Fatal("an unsigned PDF passed the required policy")
		}
		for _, pr := range problems {
			if !strings.HasPrefix(pr.Rule, "FIRMA-") || pr.Message == "" {
				t.Fatalf("problem %q", pr)
			}
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	p := newPKI(b)
	pdf := signedDoc(b, p.leaf, 100<<10).bytes()
	cfg := testConfig(p)
	if _, problems := Verify(pdf, cfg); len(problems) != 0 {
		b.Fatal(problems)
	}
	b.SetBytes(int64(len(pdf)))
	b.ResetTimer()
	for b.Loop() {
		Verify(pdf, cfg)
	}
}
