package main

import (
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/fsenet/fsenet/federation"
)

// tokenCmd issues a token for development and tests. In production tokens
// come from the region's identity provider (SPID/CIE login, the regional
// IdP); this command only signs with a key file.
func tokenCmd(args []string) error {
	cl := newCmdLine("token", "(--idp-key FILE | --authority-key FILE) --sub CF [flags]", `
Issues a bearer token for development and tests: it signs the claims given
here with a key file. Real tokens come from the region's identity provider.`)
	fs := cl.fs
	idpKey := fs.String("idp-key", "", "the region's IdP signing key (idp.key, from fsenode init)")
	authorityKey := fs.String("authority-key", "", "sign as the national authority instead (authority.key)")
	issuer := fs.String("issuer", "", "iss: the region's IdP issuer as in its configuration (default urn:fsenet:idp:REGION)")
	region := fs.String("region", "", "subject_organization_id: the region code (950 with --authority-key)")
	organization := fs.String("organization", "", "subject_organization, e.g. the ASL's name (a name: it grants nothing)")
	locality := fs.String("locality", "", "locality: the code of the structure or ASL (e.g. 030901), which the author organisation's rights rest on")
	sub := fs.String("sub", "", "sub: the person's codice fiscale")
	role := fs.String("role", "AAS", "subject_role: AAS, APR, PSS, INF, FAR, ASS (patient), TUT, DRS, MDS...")
	purpose := fs.String("purpose", "TREATMENT", "purpose_of_use: TREATMENT, EMERGENCY, PUBLICHEALTH, SYSADMIN, PERSONAL, UPDATE")
	person := fs.String("person", "", "person_id: the patient's codice fiscale")
	consent := fs.Bool("consent", false, "patient_consent")
	action := fs.String("action", "", "action_id: CREATE, READ, UPDATE, DELETE")
	ttl := fs.Duration("ttl", time.Hour, "validity (at most 25h)")
	cl.require("sub")
	if _, err := cl.parse(args); err != nil {
		return err
	}
	var key jwk.Key
	var err error
	switch {
	case (*idpKey == "") == (*authorityKey == ""):
		return usagef("token", "give exactly one of --idp-key and --authority-key")
	case *idpKey != "" && *region == "":
		return usagef("token", "--region is required with --idp-key: the region whose IdP signs")
	case *authorityKey != "":
		priv, lerr := federation.LoadPrivateKeyFile(*authorityKey)
		if lerr != nil {
			return lerr
		}
		key, err = federation.AuthorityJWK(priv)
		*issuer = federation.AuthorityIssuer
		if *region == "" {
			*region = "950"
		}
	default:
		key, err = federation.LoadIdPKey(*idpKey)
		if *issuer == "" {
			*issuer = defaultIssuer(*region)
		}
	}
	if err != nil {
		return err
	}
	if *organization == "" {
		*organization = federation.RegionNames[*region]
	}
	tok, err := federation.IssueToken(key, federation.Claims{
		Issuer: *issuer, Subject: *sub, Expiry: time.Now().Add(*ttl).Truncate(time.Second),
		SubjectRole: *role, OrganizationID: *region, Organization: *organization, Locality: *locality,
		PurposeOfUse: *purpose, PersonID: *person, PatientConsent: *consent, ActionID: *action,
	})
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}
