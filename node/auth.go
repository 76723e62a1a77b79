package node

import (
	"context"
	"net/http"
	"strings"

	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/repository/gateway"
)

// Principal is the authenticated caller of a request: the claims of a
// token verified against the replicated keys of its issuer.
type Principal struct {
	federation.Claims
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
		tok, ok := bearer(r)
		if !ok {
			unauthorized(w, r)
			return
		}
		claims, err := n.tokens.Verify(tok)
		if err != nil {
			httpapi.Log(r).Info("refused token", "remote", r.RemoteAddr, "reason", err.Error())
			unauthorized(w, r)
			return
		}
		httpapi.SetCaller(r.Context(), claims.Issuer, claims.Subject)
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

func unauthorized(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="fsenet"`)
	err := httpapi.E(httpapi.ErrUnauthorized, "a valid bearer token is required")
	if gateway.Serves(r.URL.Path) {
		httpapi.FailProblem(w, r, err)
		return
	}
	httpapi.Fail(w, r, err)
}

// authorize asks the access policy whether the caller may do act on t,
// answers the refusal if not, and returns whether to go on.
func authorize(w http.ResponseWriter, r *http.Request, act index.Action, t index.Target) bool {
	c, ok := callerOf(r)
	d := index.Hide
	if ok {
		d = index.Authorize(c, act, t)
	}
	if err := d.Err("resource"); err != nil {
		httpapi.Fail(w, r, err)
		return false
	}
	return true
}

// callerOf is the policy's view of the request's principal.
func callerOf(r *http.Request) (index.Caller, bool) {
	p, ok := PrincipalFrom(r.Context())
	if !ok {
		return index.Caller{}, false
	}
	return index.CallerFromClaims(p.Claims), true
}
