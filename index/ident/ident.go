// Package ident parses the national identifiers of a patient in FSE 2.0:
// the codice fiscale (16 characters with a check character, including the
// omocodia variants where digits are replaced by letters), and the
// temporary codes of foreigners without one, STP (Straniero
// Temporaneamente Presente) and ENI (Europeo Non Iscritto), each its own
// identifier type with its own OID.
package ident

import (
	"errors"
	"fmt"
	"strings"
)

// Kind is the type of a patient identifier.
type Kind uint8

// Identifier kinds.
const (
	CF  Kind = iota + 1 // codice fiscale
	STP                 // Straniero Temporaneamente Presente
	ENI                 // Europeo Non Iscritto
)

// OIDs of the identifier types (HL7 Italia, as in the FSE CDA schematrons).
const (
	OIDCF  = "2.16.840.1.113883.2.9.4.3.2"
	OIDSTP = "2.16.840.1.113883.2.9.4.3.17"
	OIDENI = "2.16.840.1.113883.2.9.4.3.18"
)

// SystemCF is the FHIR identifier system of the codice fiscale in the
// Italian FHIR guides; "urn:oid:" + OIDCF is accepted too.
const SystemCF = "http://hl7.it/sid/codiceFiscale"

// ErrInvalid is wrapped by every parse error.
var ErrInvalid = errors.New("invalid patient identifier")

// ID is a validated, normalised (upper-case) patient identifier.
type ID struct {
	Kind  Kind
	Value string
}

func (k Kind) String() string {
	switch k {
	case CF:
		return "CF"
	case STP:
		return "STP"
	case ENI:
		return "ENI"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// OID is the identifier type's OID.
func (k Kind) OID() string {
	switch k {
	case CF:
		return OIDCF
	case STP:
		return OIDSTP
	case ENI:
		return OIDENI
	}
	return ""
}

// System is the FHIR identifier system of the kind.
func (k Kind) System() string {
	if k == CF {
		return SystemCF
	}
	return "urn:oid:" + k.OID()
}

// String is the identifier as a key: "CF:RSSMRA80A01H501U".
func (id ID) String() string { return id.Kind.String() + ":" + id.Value }

// Parse validates an identifier of any kind, telling them apart by shape:
// STP and ENI codes are the prefix and 13 digits; anything else must be a
// codice fiscale. Spaces around it are ignored and letters upper-cased.
func Parse(s string) (ID, error) {
	v := strings.ToUpper(strings.TrimSpace(s))
	for _, k := range []Kind{STP, ENI} {
		if strings.HasPrefix(v, k.String()) {
			if err := validTemporary(v); err != nil {
				return ID{}, fmt.Errorf("%w: %s code: %v", ErrInvalid, k, err)
			}
			return ID{Kind: k, Value: v}, nil
		}
	}
	if err := ValidCF(v); err != nil {
		return ID{}, err
	}
	return ID{Kind: CF, Value: v}, nil
}

// ParseSystem validates value as an identifier of the FHIR system given
// (empty: any kind, as Parse).
func ParseSystem(system, value string) (ID, error) {
	id, err := Parse(value)
	if err != nil || system == "" {
		return id, err
	}
	switch system {
	case SystemCF, "urn:oid:" + OIDCF:
		if id.Kind == CF {
			return id, nil
		}
	case id.Kind.System():
		return id, nil
	}
	return ID{}, fmt.Errorf("%w: %q is not an identifier of system %q", ErrInvalid, value, system)
}

// validTemporary checks an STP or ENI code: the prefix and 13 digits (the
// region's code, the ASL's and a sequence number).
func validTemporary(v string) error {
	if len(v) != 16 {
		return fmt.Errorf("%d characters, want 16", len(v))
	}
	for _, c := range v[3:] {
		if c < '0' || c > '9' {
			return errors.New("want the prefix followed by 13 digits")
		}
	}
	return nil
}

// omocodia letters replace the digits 0-9 in a codice fiscale whose
// natural code collides with another person's.
const omocodia = "LMNPQRSTUV"

const months = "ABCDEHLMPRST"

// numeric positions (0-based) of a codice fiscale, where omocodia letters
// may stand for digits.
var numeric = [...]int{6, 7, 9, 10, 12, 13, 14}

// oddValue is the check-digit weight of characters at odd positions
// (1-based); digits weigh as the letter of the same rank (0 as A).
var oddValue = [26]int{1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23}

// ValidCF checks a codice fiscale: its shape, the month letter, the day
// (1-31, or 41-71 for women) and the check character.
func ValidCF(v string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: codice fiscale: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	if len(v) != 16 {
		return bad("%d characters, want 16", len(v))
	}
	isNumeric := map[int]bool{}
	for _, i := range numeric {
		isNumeric[i] = true
	}
	digits := []byte(v)
	for i := 0; i < 16; i++ {
		c := v[i]
		switch {
		case isNumeric[i]:
			if c >= '0' && c <= '9' {
				continue
			}
			j := strings.IndexByte(omocodia, c)
			if j < 0 {
				return bad("character %d must be a digit", i+1)
			}
			digits[i] = byte('0' + j)
		case c < 'A' || c > 'Z':
			return bad("character %d must be a letter", i+1)
		}
	}
	if strings.IndexByte(months, v[8]) < 0 {
		return bad("%q is not a month letter", v[8])
	}
	day := int(digits[9]-'0')*10 + int(digits[10]-'0')
	if day < 1 || (day > 31 && day < 41) || day > 71 {
		return bad("day %d is not 1-31 or 41-71", day)
	}
	if want := CheckChar(v[:15]); v[15] != want {
		return bad("check character is %q, want %q", v[15], want)
	}
	return nil
}

// CheckChar returns the check character of the first 15 characters of a
// codice fiscale (upper-case letters and digits; anything else gives
// '?').
func CheckChar(first15 string) byte {
	if len(first15) != 15 {
		return '?'
	}
	sum := 0
	for i := 0; i < 15; i++ {
		c := first15[i]
		var rank int
		switch {
		case c >= '0' && c <= '9':
			rank = int(c - '0')
		case c >= 'A' && c <= 'Z':
			rank = int(c - 'A')
		default:
			return '?'
		}
		if i%2 == 0 { // odd position, 1-based
			sum += oddValue[rank]
		} else {
			sum += rank
		}
	}
	return byte('A' + sum%26)
}
