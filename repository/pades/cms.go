package pades

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/pkcs7"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// Object identifiers of the CMS attributes and contents Verify reads.
var (
	oidSigningTime     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidTimestampToken  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}
	oidSigningCert     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
	oidSigningCertV2   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidContentTSTInfo  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidDigestSHA256    = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	errNoSignerCert    = errors.New("the signer's certificate is not in the CMS")
	errNotOneSigner    = errors.New("the CMS does not have exactly one signer")
	errEncapsulated    = errors.New("the CMS encapsulates its content; a PDF signature is detached")
	errNoSignedAttrs   = errors.New("the CMS has no signed attributes")
	errDuplicateAttr   = errors.New("a CMS attribute appears twice")
	errTimestampImprnt = errors.New("the timestamp is not over the signed data (message imprint mismatch)")
)

// checkCMS verifies an approval signature: its CMS over the signed
// bytes, its signing time, and its signer's certificate chain.
func (v *verifier) checkCMS(s *Signature, f sigField, label string, der, signed []byte) {
	p7, err := pkcs7.Parse(der)
	if err != nil {
		v.add(RuleCMS, "%s: the CMS signature cannot be read: %v", label, err)
		return
	}
	si, cert, err := oneSigner(p7)
	if err != nil {
		v.add(RuleCMS, "%s: %v", label, err)
		return
	}
	s.Signer = signerOf(cert)
	err = pkcs7.CheckSignatureWithContentType(cert, si, signed, pkcs7.OIDData)
	var mismatch *pkcs7.MessageDigestMismatchError
	switch {
	case errors.As(err, &mismatch):
		v.add(RuleDigest, "%s: the document was modified after signing (the digest of the signed bytes does not match the signature's)", label)
	case err != nil:
		v.add(RuleCMS, "%s: the CMS signature does not verify: %v", label, err)
		return
	}
	if s.SubFilter == subFilterCAdES {
		if err := checkSigningCertificate(si, cert); err != nil {
			v.add(RuleCMS, "%s: %v", label, err)
		}
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		v.add(RuleCMS, "%s: the signer's certificate is not for signatures (its key usage has neither digitalSignature nor nonRepudiation)", label)
	}

	s.SigningTime, s.TimeSource = v.signingTime(f, si, label)
	if s.TimeSource != TimeNone && s.SigningTime.After(v.now.Add(v.cfg.MaxClockSkew)) {
		v.add(RuleFutureTime, "%s: the signing time %s is in the future", label, s.SigningTime.UTC().Format(time.RFC3339))
	}
	s.Signer.Chain = v.checkChain(label, "signer's", cert, p7.Certificates, s.SigningTime, x509.ExtKeyUsageAny, RuleUntrusted, RuleCertTime)
}

// oneSigner returns the one SignerInfo of a detached CMS with signed
// attributes, and its certificate.
func oneSigner(p7 *pkcs7.PKCS7) (pkcs7.SignerInfo, *x509.Certificate, error) {
	if len(p7.Signers) != 1 {
		return pkcs7.SignerInfo{}, nil, fmt.Errorf("%w (it has %d)", errNotOneSigner, len(p7.Signers))
	}
	si := p7.Signers[0]
	if len(si.AuthenticatedAttributes) == 0 {
		return si, nil, errNoSignedAttrs
	}
	cert, err := pkcs7.GetCertFromCertsByIssuerAndSerial(p7.Certificates, si.IssuerAndSerialNumber)
	if err != nil || cert == nil {
		return si, nil, errNoSignerCert
	}
	return si, cert, nil
}

func signerOf(c *x509.Certificate) *Signer {
	return &Signer{
		Subject:     c.Subject.String(),
		Issuer:      c.Issuer.String(),
		Serial:      new(big.Int).Set(c.SerialNumber),
		Certificate: c,
	}
}

// signedAttr and unsignedAttr return the value of an attribute of si.
func signedAttr(si pkcs7.SignerInfo, typ asn1.ObjectIdentifier) ([]byte, error) {
	var found []byte
	for _, a := range si.AuthenticatedAttributes {
		if a.Type.Equal(typ) {
			if found != nil {
				return nil, errDuplicateAttr
			}
			found = a.Value.Bytes
		}
	}
	return found, nil
}

func unsignedAttr(si pkcs7.SignerInfo, typ asn1.ObjectIdentifier) ([]byte, error) {
	var found []byte
	for _, a := range si.UnauthenticatedAttributes {
		if a.Type.Equal(typ) {
			if found != nil {
				return nil, errDuplicateAttr
			}
			found = a.Value.Bytes
		}
	}
	return found, nil
}

// signingTime picks the signing time of a signature, the most
// trustworthy source first: a signature timestamp that verifies, the
// signing-time signed attribute, the dictionary's /M. Without any, the
// certificate is checked at the time of verification.
func (v *verifier) signingTime(f sigField, si pkcs7.SignerInfo, label string) (time.Time, TimeSource) {
	token, err := unsignedAttr(si, oidTimestampToken)
	if err != nil {
		v.add(RuleTimestamp, "%s: signature timestamp: %v", label, err)
	} else if token != nil {
		gen, _, err := v.verifyTimestampToken(token, si.EncryptedDigest)
		if err == nil {
			return gen, TimeFromTimestamp
		}
		v.add(RuleTimestamp, "%s: its signature timestamp does not verify: %v", label, err)
	}
	raw, err := signedAttr(si, oidSigningTime)
	if err != nil {
		v.add(RuleCMS, "%s: signing-time: %v", label, err)
	} else if raw != nil {
		var t time.Time
		if rest, err := asn1.Unmarshal(raw, &t); err != nil || len(rest) > 0 {
			v.add(RuleCMS, "%s: the signing-time attribute cannot be read", label)
		} else {
			return t, TimeFromCMS
		}
	}
	if m, ok := f.dict.Find("M"); ok {
		var s string
		switch m := m.(type) {
		case types.StringLiteral:
			s, _ = types.StringLiteralToString(m)
		case types.HexLiteral:
			s, _ = types.HexLiteralToString(m)
		}
		if t, ok := types.DateTime(s, true); ok && s != "" {
			return t, TimeFromPDF
		}
	}
	return v.now, TimeNone
}

// checkChain verifies that cert chains to the trust list at time at
// (through the certificates the CMS carries) and was valid then. Its
// problems are untrusted (no chain) and expired (not valid at that
// time). It returns the chain, when there is one.
func (v *verifier) checkChain(label, whose string, cert *x509.Certificate, certs []*x509.Certificate, at time.Time,
	eku x509.ExtKeyUsage, untrusted, expired string) []*x509.Certificate {
	inter := x509.NewCertPool()
	for _, c := range certs {
		if c != cert {
			inter.AddCert(c)
		}
	}
	check := at
	if at.Before(cert.NotBefore) || at.After(cert.NotAfter) {
		v.add(expired, "%s: the %s certificate (%s) was not valid at %s: it is valid from %s to %s", label, whose,
			cert.Subject.CommonName, at.UTC().Format(time.RFC3339),
			cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339))
		// Look for a trusted chain all the same, within the certificate's
		// validity, to tell an untrusted signer apart.
		check = cert.NotBefore
		if at.After(cert.NotAfter) {
			check = cert.NotAfter
		}
	}
	chains, err := cert.Verify(x509.VerifyOptions{
		Roots:         v.cfg.Roots,
		Intermediates: inter,
		CurrentTime:   check,
		KeyUsages:     []x509.ExtKeyUsage{eku},
	})
	if err == nil {
		return chains[0]
	}
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) && invalid.Reason == x509.Expired {
		v.add(expired, "%s: a certificate of the %s chain was not valid at %s: %v", label, whose, at.UTC().Format(time.RFC3339), err)
		return nil
	}
	v.add(untrusted, "%s: the %s certificate (%s, issued by %s) does not chain to the region's trust list: %v", label, whose,
		cert.Subject.CommonName, cert.Issuer.CommonName, err)
	return nil
}

// checkSigningCertificate checks the ESS signing-certificate(-v2)
// signed attribute that CAdES (and so ETSI.CAdES.detached) requires: it
// binds the signature to the signer's certificate.
func checkSigningCertificate(si pkcs7.SignerInfo, cert *x509.Certificate) error {
	v2, err2 := signedAttr(si, oidSigningCertV2)
	v1, err1 := signedAttr(si, oidSigningCert)
	if err := errors.Join(err2, err1); err != nil {
		return fmt.Errorf("signing-certificate: %w", err)
	}
	hash, want := crypto.SHA256, []byte(nil)
	switch {
	case v2 != nil:
		h, digest, err := firstESSCertID(v2, true)
		if err != nil {
			return fmt.Errorf("the signing-certificate-v2 attribute cannot be read: %w", err)
		}
		hash, want = h, digest
	case v1 != nil:
		_, digest, err := firstESSCertID(v1, false)
		if err != nil {
			return fmt.Errorf("the signing-certificate attribute cannot be read: %w", err)
		}
		hash, want = crypto.SHA1, digest
	default:
		return fmt.Errorf("SubFilter %s needs a signing-certificate-v2 signed attribute and the CMS has none", subFilterCAdES)
	}
	if !hash.Available() {
		return errors.New("the signing-certificate attribute uses an unsupported hash")
	}
	h := hash.New()
	h.Write(cert.Raw)
	if !bytes.Equal(h.Sum(nil), want) {
		return errors.New("the signing-certificate attribute names another certificate than the signer's")
	}
	return nil
}

// firstESSCertID reads the hash of the first ESSCertID(v2) of a
// SigningCertificate(V2) value (RFC 5035): a v2 one may name its hash
// algorithm, SHA-256 by default.
func firstESSCertID(b []byte, v2 bool) (crypto.Hash, []byte, error) {
	var outer struct {
		Certs    []asn1.RawValue
		Policies asn1.RawValue `asn1:"optional"`
	}
	if rest, err := asn1.Unmarshal(b, &outer); err != nil || len(rest) > 0 || len(outer.Certs) == 0 {
		return 0, nil, errors.New("not a SigningCertificate with a certificate")
	}
	body := outer.Certs[0].Bytes
	hash := crypto.SHA256
	var first asn1.RawValue
	rest, err := asn1.Unmarshal(body, &first)
	if err != nil {
		return 0, nil, err
	}
	if v2 && first.Class == asn1.ClassUniversal && first.Tag == asn1.TagSequence {
		var alg pkix.AlgorithmIdentifier
		if _, err := asn1.Unmarshal(first.FullBytes, &alg); err != nil {
			return 0, nil, err
		}
		if hash, err = pkcs7.HashForOID(alg.Algorithm); err != nil {
			return 0, nil, err
		}
		if _, err := asn1.Unmarshal(rest, &first); err != nil {
			return 0, nil, err
		}
	}
	if first.Class != asn1.ClassUniversal || first.Tag != asn1.TagOctetString {
		return 0, nil, errors.New("no certificate hash")
	}
	return hash, first.Bytes, nil
}

// tstInfo is an RFC 3161 TSTInfo.
type tstInfo struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint struct {
		HashAlgorithm pkix.AlgorithmIdentifier
		HashedMessage []byte
	}
	SerialNumber *big.Int
	GenTime      time.Time `asn1:"generalized"`
	Accuracy     struct {
		Seconds int `asn1:"optional"`
		Millis  int `asn1:"optional,tag:0"`
		Micros  int `asn1:"optional,tag:1"`
	} `asn1:"optional"`
	Ordering   bool          `asn1:"optional,default:false"`
	Nonce      *big.Int      `asn1:"optional"`
	TSA        asn1.RawValue `asn1:"optional,tag:0"`
	Extensions asn1.RawValue `asn1:"optional,tag:1"`
}

// verifyTimestampToken verifies an RFC 3161 timestamp token over data:
// its CMS, its message imprint, and its TSA's certificate (extended key
// usage timeStamping) chained to the trust list at the token's time. It
// returns that time and the TSA's certificate.
func (v *verifier) verifyTimestampToken(token, data []byte) (time.Time, *x509.Certificate, error) {
	p7, err := pkcs7.Parse(trimDER(token))
	if err != nil {
		return time.Time{}, nil, fmt.Errorf("the token cannot be read: %w", err)
	}
	if !p7.ContentType.Equal(oidContentTSTInfo) {
		return time.Time{}, nil, errors.New("the token holds no TSTInfo")
	}
	si, cert, err := oneSigner(p7)
	if err != nil {
		return time.Time{}, nil, err
	}
	if err := pkcs7.CheckSignatureWithContentType(cert, si, p7.Content, oidContentTSTInfo); err != nil {
		return time.Time{}, cert, fmt.Errorf("the token's signature does not verify: %w", err)
	}
	var info tstInfo
	if rest, err := asn1.Unmarshal(p7.Content, &info); err != nil || len(rest) > 0 {
		return time.Time{}, cert, errors.New("the token's TSTInfo cannot be read")
	}
	hash, err := pkcs7.HashForOID(info.MessageImprint.HashAlgorithm.Algorithm)
	if err != nil || !hash.Available() {
		return time.Time{}, cert, errors.New("the token's message imprint uses an unsupported hash")
	}
	h := hash.New()
	h.Write(data)
	if !bytes.Equal(h.Sum(nil), info.MessageImprint.HashedMessage) {
		return time.Time{}, cert, errTimestampImprnt
	}
	var chainProblems []Problem
	sub := &verifier{cfg: v.cfg, now: v.now}
	sub.checkChain("", "TSA's", cert, p7.Certificates, info.GenTime, x509.ExtKeyUsageTimeStamping, RuleTimestamp, RuleTimestamp)
	chainProblems = sub.problems
	if len(chainProblems) > 0 {
		return info.GenTime, cert, errors.New(trimLabel(chainProblems[0].Message))
	}
	return info.GenTime, cert, nil
}

func trimLabel(s string) string {
	if len(s) > 2 && s[:2] == ": " {
		return s[2:]
	}
	return s
}

// checkDocumentTimestamp verifies an ETSI.RFC3161 document timestamp:
// a timestamp token over its byte range.
func (v *verifier) checkDocumentTimestamp(s *Signature, label string, der, signed []byte) {
	gen, tsa, err := v.verifyTimestampToken(der, signed)
	if tsa != nil {
		s.Signer = signerOf(tsa)
	}
	if err != nil {
		v.add(RuleTimestamp, "%s: the document timestamp does not verify: %v", label, err)
		return
	}
	s.SigningTime, s.TimeSource = gen, TimeFromTimestamp
	if gen.After(v.now.Add(v.cfg.MaxClockSkew)) {
		v.add(RuleFutureTime, "%s: the document timestamp's time %s is in the future", label, gen.UTC().Format(time.RFC3339))
	}
}

// sameObject reports whether object nr is the same in both tables.
func sameObject(a, b *model.XRefTable, nr int) bool {
	ea, ok1 := a.Find(nr)
	eb, ok2 := b.Find(nr)
	if !ok1 || !ok2 || ea.Free || eb.Free {
		return false
	}
	return canonical(ea.Object) == canonical(eb.Object)
}
