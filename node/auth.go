package node

import (
	"context"
	"net/http"
	"strings"

	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/gateway"
)

// Principal is the authenticated caller of a request: the claims of a
// token verified against the replicated keys of its issuer.
type Principal struct {
	federation.Claims
}

// Authority reports whether the national authority signed the token.
func (p *Principal) Authority() bool { return p.Issuer == federation.AuthorityIssuer }

// Operator reports whether the caller administers region code: a SYSADMIN
// token of that region's IdP, or the authority.
func (p *Principal) Operator(code string) bool {
	return p.Authority() || (p.PurposeOfUse == "SYSADMIN" && p.OrganizationID == code)
}

type principalKey struct{}

// PrincipalFrom returns the request's authenticated caller.
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok
}

// public lists the requests served without a token: health, metrics, the
// FHIR CapabilityStatement, and the join request (authenticated by the
// authority's certificate and the node key's signature it carries).
func public(r *http.Request) bool {
	switch r.URL.Path {
	case "/healthz", "/readyz", "/metrics", "/fhir/metadata":
		return true
	case "/v1/federation/join":
		return r.Method == http.MethodPost
	}
	return false
}

// authenticate verifies the bearer token of every non-public request and
// puts the principal in the request's context. Every refusal is the same
// 401: the reason is logged (without the token), never told.
func (n *Node) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if public(r) {
			next.ServeHTTP(w, r)
			return
		}
		refuse := unauthorized
		if gateway.Serves(r.URL.Path) {
			refuse = func(w http.ResponseWriter) { gateway.Unauthorized(w, r) }
		}
		tok, ok := bearer(r)
		if !ok {
			refuse(w)
			return
		}
		claims, err := n.tokens.Verify(tok)
		if err != nil {
			n.log.Info("refused token", "path", r.URL.Path, "remote", r.RemoteAddr, "reason", err.Error())
			refuse(w)
			return
		}
		ctx := context.WithValue(r.Context(), principalKey{}, &Principal{Claims: claims})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="fsenet"`)
	writeOutcome(w, http.StatusUnauthorized, "login", "a valid bearer token is required")
}

// require answers 403 unless allowed; it returns whether to go on.
func require(w http.ResponseWriter, r *http.Request, allowed func(*Principal) bool) bool {
	p, ok := PrincipalFrom(r.Context())
	if !ok || !allowed(p) {
		writeOutcome(w, http.StatusForbidden, "forbidden", "this token does not grant this operation")
		return false
	}
	return true
}

// callerOf is the index's view of the request's principal.
func callerOf(r *http.Request) (index.Caller, bool) {
	p, ok := PrincipalFrom(r.Context())
	if !ok {
		return index.Caller{}, false
	}
	return callerFromClaims(p.Claims), true
}

// callerFromClaims is the index's view of a verified token.
func callerFromClaims(c federation.Claims) index.Caller {
	return index.Caller{Subject: c.Subject, Role: c.SubjectRole, Purpose: c.PurposeOfUse, Region: c.OrganizationID,
		Organization: c.Organization, Authority: c.Issuer == federation.AuthorityIssuer}
}
