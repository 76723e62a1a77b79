package pades

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/pkcs7"
)

// testNow is the verifier's clock in the tests.
var testNow = time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)

// identity is a certificate, its key and the chain above it (without
// the root).
type identity struct {
	cert  *x509.Certificate
	key   *ecdsa.PrivateKey
	chain []*x509.Certificate
}

// testPKI is made once per test binary: a trusted root and
// intermediate CA, leaves (valid, expired, not yet valid), a TSA, and an
// untrusted root with its own leaf and TSA.
type testPKI struct {
	root, inter                identity
	leaf, expired, future, tsa identity
	rogueRoot, rogue, rogueTSA identity
	leafNoSign                 identity
	roots                      *x509.CertPool
	rootPEM                    []byte
}

var (
	pkiOnce sync.Once
	pkiVal  *testPKI
	serial  int64
)

func newPKI(t testing.TB) *testPKI {
	t.Helper()
	pkiOnce.Do(func() {
		p := &testPKI{}
		p.root = mkCert(t, "fsenet test root CA", nil, true, ymd(2020, 1, 1), ymd(2040, 1, 1), 0, nil)
		p.inter = mkCert(t, "Regione Test CA firma qualificata", &p.root, true, ymd(2021, 1, 1), ymd(2035, 1, 1), 0, nil)
		sig := x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
		p.leaf = mkCert(t, "Maria Rossi", &p.inter, false, ymd(2026, 1, 1), ymd(2028, 1, 1), sig, nil)
		p.expired = mkCert(t, "Luca Bianchi", &p.inter, false, ymd(2024, 1, 1), ymd(2025, 1, 1), sig, nil)
		p.future = mkCert(t, "Anna Verdi", &p.inter, false, ymd(2027, 1, 1), ymd(2029, 1, 1), sig, nil)
		p.leafNoSign = mkCert(t, "Chiave Cifratura", &p.inter, false, ymd(2026, 1, 1), ymd(2028, 1, 1), x509.KeyUsageKeyEncipherment, nil)
		p.tsa = mkCert(t, "fsenet test TSA", &p.inter, false, ymd(2025, 1, 1), ymd(2030, 1, 1), x509.KeyUsageDigitalSignature,
			[]x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping})
		p.rogueRoot = mkCert(t, "Rogue root CA", nil, true, ymd(2020, 1, 1), ymd(2040, 1, 1), 0, nil)
		p.rogue = mkCert(t, "Mario Falso", &p.rogueRoot, false, ymd(2026, 1, 1), ymd(2028, 1, 1), sig, nil)
		p.rogueTSA = mkCert(t, "Rogue TSA", &p.rogueRoot, false, ymd(2025, 1, 1), ymd(2030, 1, 1), x509.KeyUsageDigitalSignature,
			[]x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping})
		p.roots = x509.NewCertPool()
		p.roots.AddCert(p.root.cert)
		p.rootPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.root.cert.Raw})
		pkiVal = p
	})
	if pkiVal == nil {
		t.Fatal("test PKI not made")
	}
	return pkiVal
}

func ymd(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func mkCert(t testing.TB, cn string, issuer *identity, ca bool, from, to time.Time, ku x509.KeyUsage, eku []x509.ExtKeyUsage) identity {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1000 + serial),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"fsenet test"}, Country: []string{"IT"}},
		NotBefore:             from,
		NotAfter:              to,
		KeyUsage:              ku,
		ExtKeyUsage:           eku,
		BasicConstraintsValid: true,
		IsCA:                  ca,
	}
	if ca {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	}
	parent, signer := tmpl, key
	var chain []*x509.Certificate
	if issuer != nil {
		parent, signer = issuer.cert, issuer.key
		chain = append([]*x509.Certificate{issuer.cert}, issuer.chain...)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	// The chain given to signers stops below the root, as real ones do.
	if len(chain) > 0 && bytes.Equal(chain[len(chain)-1].RawIssuer, chain[len(chain)-1].RawSubject) {
		chain = chain[:len(chain)-1]
	}
	return identity{cert: cert, key: key, chain: chain}
}

// testConfig is the required policy trusting the test root.
func testConfig(p *testPKI) Config {
	c := DefaultConfig()
	c.Policy = Required
	c.Roots = p.roots
	c.Now = func() time.Time { return testNow }
	return c
}

// pdfDoc builds a PDF revision by revision, as signers do: a base
// revision, then incremental updates.
type pdfDoc struct {
	b        []byte
	size     int // next object number
	prevXref int
	fields   []int // signature fields (and their widgets) on page 3
	extra    []int // other annotations on page 3
	dss      int   // the DSS object, if any
	// The catalog and the page the signature widgets go on: object
	// numbers and dictionaries without their closing ">>".
	catalogNr, pageNr     int
	catalogBase, pageBase string
}

// newDoc writes a one-page PDF; padding adds a content stream of
// comments of about that many bytes.
func newDoc(padding int) *pdfDoc {
	d := &pdfDoc{size: 1, catalogNr: 1, pageNr: 3,
		catalogBase: "<< /Type /Catalog /Pages 2 0 R",
		pageBase:    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents [4 0 R 6 0 R]"}
	d.b = []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	text := "BT /F1 14 Tf 56 780 Td (Referto di laboratorio - emoglobina 13.5 g/dL) Tj ET\n"
	objs := map[int]string{
		2: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		4: streamObj("", []byte(text)),
		5: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var pad bytes.Buffer
	for pad.Len() < padding {
		fmt.Fprintf(&pad, "%% padding line %08d of the document body, ignored by viewers\n", pad.Len())
	}
	objs[6] = streamObj("", pad.Bytes())
	d.size = 7
	objs[1] = d.catalog()
	objs[3] = d.page()
	d.write(objs, false)
	return d
}

func streamObj(dict string, data []byte) string {
	return fmt.Sprintf("<< %s/Length %d >>\nstream\n%s\nendstream", dict, len(data), data)
}

func refs(nrs []int) string {
	var s []string
	for _, n := range nrs {
		s = append(s, fmt.Sprintf("%d 0 R", n))
	}
	return strings.Join(s, " ")
}

func (d *pdfDoc) catalog() string {
	s := d.catalogBase
	if len(d.fields) > 0 {
		s += " /AcroForm << /Fields [" + refs(d.fields) + "] /SigFlags 3 >>"
	}
	if d.dss != 0 {
		s += fmt.Sprintf(" /DSS %d 0 R", d.dss)
	}
	return s + " >>"
}

func (d *pdfDoc) page() string {
	s := d.pageBase
	if annots := append(slices.Clone(d.fields), d.extra...); len(annots) > 0 {
		s += " /Annots [" + refs(annots) + "]"
	}
	return s + " >>"
}

func (d *pdfDoc) newObj() int {
	n := d.size
	d.size++
	return n
}

// write appends objs and a cross-reference section: the whole file's
// when base, else an incremental update's.
func (d *pdfDoc) write(objs map[int]string, update bool) {
	nrs := make([]int, 0, len(objs))
	for n := range objs {
		nrs = append(nrs, n)
	}
	slices.Sort(nrs)
	offsets := map[int]int{}
	for _, n := range nrs {
		offsets[n] = len(d.b)
		d.b = fmt.Appendf(d.b, "%d 0 obj\n%s\nendobj\n", n, objs[n])
	}
	xref := len(d.b)
	d.b = append(d.b, "xref\n"...)
	if !update {
		d.b = fmt.Appendf(d.b, "0 %d\n0000000000 65535 f \n", d.size)
		for n := 1; n < d.size; n++ {
			d.b = fmt.Appendf(d.b, "%010d 00000 n \n", offsets[n])
		}
	} else {
		for _, n := range nrs {
			d.b = fmt.Appendf(d.b, "%d 1\n%010d 00000 n \n", n, offsets[n])
		}
	}
	d.b = fmt.Appendf(d.b, "trailer\n<< /Size %d /Root %d 0 R", d.size, d.catalogNr)
	if update {
		d.b = fmt.Appendf(d.b, " /Prev %d", d.prevXref)
	}
	d.b = fmt.Appendf(d.b, " >>\nstartxref\n%d\n%%%%EOF\n", xref)
	d.prevXref = xref
}

func (d *pdfDoc) bytes() []byte { return slices.Clone(d.b) }

// sigOpts says how to sign.
type sigOpts struct {
	field     string
	subFilter string // default ETSI.CAdES.detached
	docTS     bool   // a document timestamp (/Type /DocTimeStamp)
	m         string // the /M entry, if any
	visible   bool   // the widget has an appearance on the page
	// cms makes the /Contents from the signed bytes.
	cms func(signed []byte) []byte
	// byteRange, if set, changes the byte range before signing.
	byteRange func(br *[4]int)
}

const contentsHexLen = 2 * 12288

// sign appends an incremental update with a signature field signed as o
// says.
func (d *pdfDoc) sign(t testing.TB, o sigOpts) {
	t.Helper()
	sigNr, fieldNr := d.newObj(), d.newObj()
	d.fields = append(d.fields, fieldNr)
	sf, typ := o.subFilter, "/Sig"
	if sf == "" {
		sf = subFilterCAdES
	}
	if o.docTS {
		sf, typ = subFilterDocTimeTST, "/DocTimeStamp"
	}
	m := ""
	if o.m != "" {
		m = " /M (" + o.m + ")"
	}
	objs := map[int]string{
		sigNr: "<< /Type " + typ + " /Filter /Adobe.PPKLite /SubFilter /" + sf + m +
			" /ByteRange [0000000000 0000000000 0000000000 0000000000] /Contents <" + strings.Repeat("0", contentsHexLen) + "> >>",
		d.catalogNr: d.catalog(),
		d.pageNr:    d.page(),
	}
	rect, ap := "[0 0 0 0]", ""
	if o.visible {
		apNr := d.newObj()
		objs[apNr] = streamObj("/Type /XObject /Subtype /Form /BBox [0 0 200 50] ", []byte("0 0 1 rg 0 0 200 50 re f"))
		rect, ap = "[56 700 256 750]", fmt.Sprintf(" /AP << /N %d 0 R >>", apNr)
	}
	objs[fieldNr] = fmt.Sprintf("<< /FT /Sig /T (%s) /V %d 0 R /Type /Annot /Subtype /Widget /Rect %s /F 132 /P %d 0 R%s >>", o.field, sigNr, rect, d.pageNr, ap)
	d.write(objs, true)

	start := bytes.LastIndex(d.b, []byte("/ByteRange [0000000000"))
	lt := start + bytes.Index(d.b[start:], []byte("/Contents <")) + len("/Contents ")
	gt := lt + 1 + contentsHexLen + 1
	br := [4]int{0, lt, gt, len(d.b) - gt}
	if o.byteRange != nil {
		o.byteRange(&br)
	}
	copy(d.b[start:], fmt.Sprintf("/ByteRange [%010d %010d %010d %010d]", br[0], br[1], br[2], br[3]))
	signed := append(slices.Clone(d.b[br[0]:br[0]+br[1]]), d.b[br[2]:min(len(d.b), br[2]+br[3])]...)
	c := o.cms(signed)
	if 2*len(c) > contentsHexLen {
		t.Fatalf("CMS of %d bytes does not fit", len(c))
	}
	copy(d.b[lt+1:], strings.ToUpper(hex.EncodeToString(c)))
}

// signing-certificate-v2 with one ESSCertIDv2 (SHA-256, the default
// algorithm, left out).
func essV2(cert *x509.Certificate) asn1.RawValue {
	h := sha256.Sum256(cert.Raw)
	type essCertIDv2 struct{ CertHash []byte }
	type signingCertificateV2 struct{ Certs []essCertIDv2 }
	b, err := asn1.Marshal(signingCertificateV2{Certs: []essCertIDv2{{CertHash: h[:]}}})
	if err != nil {
		panic(err)
	}
	return asn1.RawValue{FullBytes: b}
}

// pdfcpuCMS signs with pdfcpu's CMS signer: a detached SignedData with
// content-type, message-digest, and, when set, signing-time and
// signing-certificate-v2.
func pdfcpuCMS(t testing.TB, id identity, signingTime time.Time, ess bool) func([]byte) []byte {
	return func(signed []byte) []byte {
		sd, err := pkcs7.NewSignedData()
		if err != nil {
			t.Fatal(err)
		}
		var attrs []pkcs7.Attribute
		if !signingTime.IsZero() {
			attrs = append(attrs, pkcs7.Attribute{Type: oidSigningTime, Value: signingTime})
		}
		if ess {
			attrs = append(attrs, pkcs7.Attribute{Type: oidSigningCertV2, Value: essV2(id.cert)})
		}
		digest := sha256.Sum256(signed)
		if err := sd.AddSignerChain(id.cert, id.key, digest[:], pkcs7.OIDDigestAlgorithmSHA256, id.chain,
			pkcs7.SignerInfoConfig{ExtraSignedAttributes: attrs}); err != nil {
			t.Fatal(err)
		}
		out, err := sd.Finish()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
}

// A small CMS writer for what pdfcpu's signer does not make: timestamp
// tokens (encapsulated TSTInfo) and signatures with unsigned attributes
// or a key that is not the certificate's.

var (
	oidData          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidContentType   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidECDSASHA256   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidTSAPolicy     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}
)

type cmsAttr struct {
	typ asn1.ObjectIdentifier
	val any
}

func mustMarshal(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// attrSet encodes attributes as the content of a DER SET OF.
func attrSet(attrs []cmsAttr) []byte {
	var enc [][]byte
	for _, a := range attrs {
		val, ok := a.val.(asn1.RawValue)
		if !ok {
			val = asn1.RawValue{FullBytes: mustMarshal(a.val)}
		}
		enc = append(enc, mustMarshal(struct {
			Type   asn1.ObjectIdentifier
			Values []asn1.RawValue `asn1:"set"`
		}{a.typ, []asn1.RawValue{val}}))
	}
	slices.SortFunc(enc, bytes.Compare)
	return bytes.Join(enc, nil)
}

type cmsParams struct {
	signer      identity
	key         *ecdsa.PrivateKey // signs instead of signer.key when set
	contentType asn1.ObjectIdentifier
	eContent    []byte // encapsulated content, nil when detached
	digest      []byte // message-digest attribute
	signed      []cmsAttr
	// unsigned makes unsigned attributes from the signature value.
	unsigned func(sig []byte) []cmsAttr
}

func buildCMS(p cmsParams) []byte {
	signed := append([]cmsAttr{
		{oidContentType, p.contentType},
		{oidMessageDigest, p.digest},
	}, p.signed...)
	set := attrSet(signed)
	setDER := mustMarshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: set})
	key := p.signer.key
	if p.key != nil {
		key = p.key
	}
	h := sha256.Sum256(setDER)
	sig, err := key.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		panic(err)
	}
	type issuerAndSerial struct {
		Issuer asn1.RawValue
		Serial *big.Int
	}
	type signerInfo struct {
		Version       int
		SID           issuerAndSerial
		DigestAlg     pkix.AlgorithmIdentifier
		SignedAttrs   asn1.RawValue
		SigAlg        pkix.AlgorithmIdentifier
		Signature     []byte
		UnsignedAttrs asn1.RawValue `asn1:"optional"`
	}
	si := signerInfo{
		Version:     1,
		SID:         issuerAndSerial{asn1.RawValue{FullBytes: p.signer.cert.RawIssuer}, p.signer.cert.SerialNumber},
		DigestAlg:   pkix.AlgorithmIdentifier{Algorithm: oidDigestSHA256},
		SignedAttrs: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: set},
		SigAlg:      pkix.AlgorithmIdentifier{Algorithm: oidECDSASHA256},
		Signature:   sig,
	}
	if p.unsigned != nil {
		si.UnsignedAttrs = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: attrSet(p.unsigned(sig))}
	}
	type encapContentInfo struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue `asn1:"optional"`
	}
	eci := encapContentInfo{ContentType: p.contentType}
	if p.eContent != nil {
		eci.Content = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: mustMarshal(p.eContent)}
	}
	var certs []byte
	for _, c := range append([]*x509.Certificate{p.signer.cert}, p.signer.chain...) {
		certs = append(certs, c.Raw...)
	}
	sd := struct {
		Version     int
		DigestAlgs  []pkix.AlgorithmIdentifier `asn1:"set"`
		Content     encapContentInfo
		Certs       asn1.RawValue
		SignerInfos []signerInfo `asn1:"set"`
	}{
		Version:     3,
		DigestAlgs:  []pkix.AlgorithmIdentifier{{Algorithm: oidDigestSHA256}},
		Content:     eci,
		Certs:       asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: certs},
		SignerInfos: []signerInfo{si},
	}
	return mustMarshal(struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue
	}{oidSignedData, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: mustMarshal(sd)}})
}

// timestampToken is an RFC 3161 token by tsa over data at genTime.
func timestampToken(tsa identity, data []byte, genTime time.Time) []byte {
	imprint := sha256.Sum256(data)
	var info tstInfo
	info.Version = 1
	info.Policy = oidTSAPolicy
	info.MessageImprint.HashAlgorithm = pkix.AlgorithmIdentifier{Algorithm: oidDigestSHA256}
	info.MessageImprint.HashedMessage = imprint[:]
	info.SerialNumber = big.NewInt(genTime.Unix())
	info.GenTime = genTime.UTC()
	der := mustMarshal(info)
	digest := sha256.Sum256(der)
	return buildCMS(cmsParams{
		signer:      tsa,
		contentType: oidContentTSTInfo,
		eContent:    der,
		digest:      digest[:],
		signed:      []cmsAttr{{oidSigningCertV2, essV2(tsa.cert)}},
	})
}

// handCMS is a detached CAdES signature made with buildCMS, with a
// signature timestamp by tsa when tsa is set.
func handCMS(id identity, key *ecdsa.PrivateKey, signingTime time.Time, tsa *identity, tsTime time.Time) func([]byte) []byte {
	return func(signed []byte) []byte {
		digest := sha256.Sum256(signed)
		p := cmsParams{
			signer:      id,
			key:         key,
			contentType: oidData,
			digest:      digest[:],
			signed:      []cmsAttr{{oidSigningTime, signingTime}, {oidSigningCertV2, essV2(id.cert)}},
		}
		if tsa != nil {
			p.unsigned = func(sig []byte) []cmsAttr {
				return []cmsAttr{{oidTimestampToken, asn1.RawValue{FullBytes: timestampToken(*tsa, sig, tsTime)}}}
			}
		}
		return buildCMS(p)
	}
}

// docTimestamp signs a document timestamp by tsa.
func docTimestamp(tsa identity, genTime time.Time) func([]byte) []byte {
	return func(signed []byte) []byte { return timestampToken(tsa, signed, genTime) }
}

// addDSS appends an incremental update with a Document Security Store
// holding certs.
func (d *pdfDoc) addDSS(certs ...*x509.Certificate) {
	objs := map[int]string{}
	var certRefs []int
	for _, c := range certs {
		n := d.newObj()
		objs[n] = streamObj("", c.Raw)
		certRefs = append(certRefs, n)
	}
	d.dss = d.newObj()
	objs[d.dss] = "<< /Type /DSS /Certs [" + refs(certRefs) + "] >>"
	objs[d.catalogNr] = d.catalog()
	d.write(objs, true)
}
