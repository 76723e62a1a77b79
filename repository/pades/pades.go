package pades

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"
)

// Policy says whether a region requires producers' PDFs to be signed.
type Policy string

// The policies a region may configure (`signature = required | optional`).
const (
	// Required: an unsigned PDF is refused (FIRMA-1).
	Required Policy = "required"
	// Optional: an unsigned PDF passes; a signed one is still verified
	// and refused when its signature is bad.
	Optional Policy = "optional"
)

// ParsePolicy reads a policy as written in a region's configuration.
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(strings.ToLower(strings.TrimSpace(s))); p {
	case Required, Optional:
		return p, nil
	}
	return "", fmt.Errorf("pades: signature policy %q: want %q or %q", s, Required, Optional)
}

// Defaults of Config.
const (
	DefaultMaxBytes     = 64 << 20
	DefaultMaxClockSkew = 5 * time.Minute
	DefaultTimeout      = 20 * time.Second
)

// Limits on what Verify reads, whatever the configuration: they bound
// its work on hostile input.
const (
	// MaxSignatures is the most signature fields (signatures and
	// document timestamps) a PDF may carry.
	MaxSignatures = 16
	// MaxFields is the most form fields Verify walks looking for them.
	MaxFields = 1024
	// MaxContentsBytes bounds one signature's /Contents (the CMS).
	MaxContentsBytes = 4 << 20
)

// Config is what Verify checks a PDF against: one region's policy and
// trust list.
type Config struct {
	// Policy says whether a signature is required.
	Policy Policy
	// Roots is the trust list: a signer's certificate must chain to one
	// of these (and a timestamp's TSA certificate too). Never nil; an
	// empty pool trusts nobody. The system's roots are never used.
	Roots *x509.CertPool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxBytes bounds the PDF; 0 means DefaultMaxBytes.
	MaxBytes int
	// MaxClockSkew is how far in the future a signing time may lie
	// before FIRMA-10; 0 means DefaultMaxClockSkew.
	MaxClockSkew time.Duration
	// Timeout bounds the parsing of one PDF; 0 means DefaultTimeout.
	Timeout time.Duration
	// MultipleSignatures accepts more than one approval signature (each
	// verified, each later one added by an incremental update holding
	// only that signature). False, the default, refuses them (FIRMA-11):
	// an FSE document has one signer, its author's producer.
	MultipleSignatures bool
}

// DefaultConfig is the optional policy with an empty trust list: set
// Roots (LoadTrustList) before use.
func DefaultConfig() Config {
	return Config{
		Policy:       Optional,
		Roots:        x509.NewCertPool(),
		Now:          time.Now,
		MaxBytes:     DefaultMaxBytes,
		MaxClockSkew: DefaultMaxClockSkew,
		Timeout:      DefaultTimeout,
	}
}

// Validate reports a configuration Verify cannot work with.
func (c Config) Validate() error {
	var errs []error
	if c.Policy != Required && c.Policy != Optional {
		errs = append(errs, fmt.Errorf("pades: signature policy %q: want %q or %q", c.Policy, Required, Optional))
	}
	if c.Roots == nil {
		errs = append(errs, errors.New("pades: no trust list (Roots)"))
	}
	if c.MaxBytes < 0 {
		errs = append(errs, errors.New("pades: MaxBytes is negative"))
	}
	if c.MaxClockSkew < 0 {
		errs = append(errs, errors.New("pades: MaxClockSkew is negative"))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("pades: Timeout is negative"))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxClockSkew == 0 {
		c.MaxClockSkew = DefaultMaxClockSkew
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// MaxTrustListBytes bounds a trust list file.
const MaxTrustListBytes = 32 << 20

// LoadTrustList reads a trust list: a PEM bundle of CERTIFICATE blocks
// (the CAs whose signers a region accepts, e.g. the qualified CAs of the
// EU trusted lists and the regional health-service CA).
func LoadTrustList(path string) (*x509.CertPool, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("pades: trust list: %w", err)
	}
	if st.Size() > MaxTrustListBytes {
		return nil, fmt.Errorf("pades: trust list %s: larger than %d bytes", path, MaxTrustListBytes)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pades: trust list: %w", err)
	}
	pool, _, err := ParseTrustList(b)
	if err != nil {
		return nil, fmt.Errorf("pades: trust list %s: %w", path, err)
	}
	return pool, nil
}

// ParseTrustList reads a PEM bundle of CERTIFICATE blocks into a pool
// and returns the certificates too. Anything but CERTIFICATE blocks and
// the text between them is an error, as is a bundle with none.
func ParseTrustList(b []byte) (*x509.CertPool, []*x509.Certificate, error) {
	pool := x509.NewCertPool()
	var certs []*x509.Certificate
	for n := 1; ; n++ {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, nil, fmt.Errorf("block %d: %s, want CERTIFICATE", n, blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("block %d: %w", n, err)
		}
		pool.AddCert(c)
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, nil, errors.New("no CERTIFICATE block")
	}
	return pool, certs, nil
}

// Problem is one rule a PDF breaks.
type Problem struct {
	Rule    string `json:"rule"` // FIRMA-n, see the package doc
	Message string `json:"message"`
}

func (p Problem) String() string { return p.Rule + ": " + p.Message }

// Rule ids (the table in the package doc says what each means).
const (
	RuleUnsigned        = "FIRMA-1"
	RuleUnreadable      = "FIRMA-2"
	RuleSubFilter       = "FIRMA-3"
	RuleByteRange       = "FIRMA-4"
	RuleDigest          = "FIRMA-5"
	RuleAppended        = "FIRMA-6"
	RuleCMS             = "FIRMA-7"
	RuleUntrusted       = "FIRMA-8"
	RuleCertTime        = "FIRMA-9"
	RuleFutureTime      = "FIRMA-10"
	RuleMultiple        = "FIRMA-11"
	RuleTimestamp       = "FIRMA-12"
	RuleConfiguration   = "FIRMA-13"
	subFilterDetached   = "adbe.pkcs7.detached"
	subFilterCAdES      = "ETSI.CAdES.detached"
	subFilterDocTimeTST = "ETSI.RFC3161"
)

// TimeSource says where a signing time comes from.
type TimeSource string

// Sources of a signing time, the most trustworthy first.
const (
	// TimeFromTimestamp: the genTime of an RFC 3161 signature timestamp
	// (unsigned attribute of the CMS) that verified against the trust
	// list: proof that the signature existed then.
	TimeFromTimestamp TimeSource = "timestamp"
	// TimeFromCMS: the signing-time signed attribute, the signer's claim.
	TimeFromCMS TimeSource = "cms"
	// TimeFromPDF: the /M entry of the signature dictionary (where
	// PAdES baseline signatures carry the claimed time), the signer's
	// claim.
	TimeFromPDF TimeSource = "pdf"
	// TimeNone: no signing time; the certificate was checked at the
	// time of verification.
	TimeNone TimeSource = "none"
)

// Signer names who signed.
type Signer struct {
	Subject string   `json:"subject"`
	Issuer  string   `json:"issuer"`
	Serial  *big.Int `json:"serial"`
	// Certificate is the signer's certificate as found in the CMS.
	Certificate *x509.Certificate `json:"-"`
	// Chain is the verified path from the signer to a trusted root,
	// when there is one.
	Chain []*x509.Certificate `json:"-"`
}

// Signature is one signature field of the PDF.
type Signature struct {
	Field     string `json:"field,omitempty"`
	SubFilter string `json:"subFilter"`
	// DocumentTimestamp is true for an ETSI.RFC3161 document timestamp
	// (PAdES-LTA); Signer is then the TSA.
	DocumentTimestamp bool       `json:"documentTimestamp,omitempty"`
	Signer            *Signer    `json:"signer,omitempty"`
	SigningTime       time.Time  `json:"signingTime"`
	TimeSource        TimeSource `json:"timeSource"`
	// ByteRange as found in the signature dictionary.
	ByteRange [4]int64 `json:"byteRange"`
	// Appended is true when incremental updates follow the signed
	// revision (only of the kinds PAdES allows, or FIRMA-6 says so).
	Appended bool `json:"appended,omitempty"`
	// Valid is true when this signature broke no rule.
	Valid bool `json:"valid"`
}

// Result is what Verify learned of a PDF.
type Result struct {
	// Signed is true when the PDF carries at least one approval
	// signature (a document timestamp alone does not sign it).
	Signed bool `json:"signed"`
	// Signer, SigningTime and TimeSource are those of the first
	// approval signature, when Signed.
	Signer      *Signer    `json:"signer,omitempty"`
	SigningTime time.Time  `json:"signingTime"`
	TimeSource  TimeSource `json:"timeSource,omitempty"`
	// Signatures lists every signature field in file order, approval
	// signatures and document timestamps.
	Signatures []Signature `json:"signatures,omitempty"`
}

// Verify checks the PAdES signatures of pdf against cfg: it returns
// what it learned and the rules the PDF breaks (none: the PDF passes
// the region's policy). It never panics and its work is bounded by
// cfg's limits and the package's.
func Verify(pdf []byte, cfg Config) (Result, []Problem) {
	return VerifyContext(context.Background(), pdf, cfg)
}

// VerifyContext is Verify, stopping when ctx is done.
func VerifyContext(ctx context.Context, pdf []byte, cfg Config) (res Result, problems []Problem) {
	if err := cfg.Validate(); err != nil {
		return Result{}, []Problem{{RuleConfiguration, err.Error()}}
	}
	cfg = cfg.withDefaults()
	defer func() {
		if r := recover(); r != nil {
			res = Result{}
			problems = []Problem{{RuleUnreadable, fmt.Sprintf("the PDF cannot be read: %v", r)}}
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	v := &verifier{cfg: cfg, pdf: pdf, ctx: ctx, now: cfg.Now()}
	v.run()
	return v.res, v.problems
}

type verifier struct {
	cfg      Config
	pdf      []byte
	ctx      context.Context
	now      time.Time
	res      Result
	problems []Problem
}

func (v *verifier) add(rule, format string, args ...any) {
	v.problems = append(v.problems, Problem{Rule: rule, Message: fmt.Sprintf(format, args...)})
}
