package keymanager

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/authn"
)

// Paths of the endpoints, below the listener's root (the issuer URL names
// the same origin, so metadata can list absolute URLs).
const (
	TokenPath      = "/oauth2/token"
	IntrospectPath = "/oauth2/introspect"
	RevokePath     = "/oauth2/revoke"
	JWKSPath       = "/oauth2/jwks"
	MetadataPath   = "/.well-known/oauth-authorization-server"
)

// Paths lists every path the key manager serves, for mounting.
var Paths = []string{TokenPath, IntrospectPath, RevokePath, JWKSPath, MetadataPath}

// maxFormBytes bounds a request body.
const maxFormBytes = 16 << 10

// ServeHTTP serves the endpoints (see Paths).
func (km *KeyManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case TokenPath:
		km.post(w, r, km.token)
	case IntrospectPath:
		km.post(w, r, km.introspect)
	case RevokePath:
		km.post(w, r, km.revoke)
	case JWKSPath:
		km.get(w, r, "application/jwk-set+json", km.jwks)
	case MetadataPath:
		km.get(w, r, "application/json", km.metadata)
	default:
		http.NotFound(w, r)
	}
}

// Metadata is the RFC 8414 authorization server metadata.
func (km *KeyManager) Metadata() map[string]any {
	base := strings.TrimSuffix(km.cfg.Issuer, "/")
	auth := []string{"client_secret_basic", "client_secret_post"}
	return map[string]any{
		"issuer":                                km.cfg.Issuer,
		"token_endpoint":                        base + TokenPath,
		"introspection_endpoint":                base + IntrospectPath,
		"revocation_endpoint":                   base + RevokePath,
		"jwks_uri":                              base + JWKSPath,
		"grant_types_supported":                 []string{"client_credentials"},
		"response_types_supported":              []string{},
		"token_endpoint_auth_methods_supported": auth,
		"introspection_endpoint_auth_methods_supported": auth,
		"revocation_endpoint_auth_methods_supported":    auth,
	}
}

func (km *KeyManager) get(w http.ResponseWriter, r *http.Request, ctype string, body []byte) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "use GET")
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "max-age=300")
	_, _ = w.Write(body)
}

// post parses an endpoint's form and authenticates the client, then calls
// h. Parameters come from the body only (never the query), each at most
// once (RFC 6749 §3.2); one client authentication method (§2.3).
func (km *KeyManager) post(w http.ResponseWriter, r *http.Request, h func(http.ResponseWriter, *http.Request, *Application, url.Values)) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "malformed or oversized form")
		return
	}
	form := r.PostForm
	for k, v := range form {
		if len(v) > 1 {
			oauthError(w, http.StatusBadRequest, "invalid_request", "parameter "+strconv.Quote(k)+" is repeated")
			return
		}
	}
	id, secret, basic, err := clientCredentials(r, form)
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	app, err := km.Authenticate(ctx, id, secret)
	if err != nil {
		km.cfg.Logger.Debug("client authentication failed", "path", r.URL.Path, "client_id", id)
		if basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="`+km.cfg.Name+`"`)
		}
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	h(w, r.WithContext(ctx), app, form)
}

// clientCredentials reads client_secret_basic (form-urlencoded parts, RFC
// 6749 §2.3.1) or client_secret_post credentials; both at once is an error.
func clientCredentials(r *http.Request, form url.Values) (id, secret string, basic bool, err error) {
	authz := r.Header.Get("Authorization")
	_, postID := form["client_id"]
	_, postSecret := form["client_secret"]
	if authz != "" {
		if postSecret {
			return "", "", false, errors.New("use one client authentication method")
		}
		scheme, cred, _ := strings.Cut(authz, " ")
		if !strings.EqualFold(scheme, "Basic") {
			return "", "", false, errors.New("client authentication must be Basic or client_secret_post")
		}
		// The gateway's own strict decoder (canonical base64, one colon
		// split, no control characters), as for every Basic credential.
		uid, pw, err := authn.DecodeBasicCredentials(strings.TrimSpace(cred))
		if err != nil {
			return "", "", false, errors.New("malformed Basic credentials")
		}
		if id, err = url.QueryUnescape(uid); err == nil {
			secret, err = url.QueryUnescape(pw)
		}
		if err != nil {
			return "", "", false, errors.New("malformed Basic credentials")
		}
		if postID && form.Get("client_id") != id {
			return "", "", false, errors.New("client_id does not match the Basic credentials")
		}
		return id, secret, true, nil
	}
	if !postID || !postSecret {
		return "", "", false, errors.New("client authentication is required")
	}
	return form.Get("client_id"), form.Get("client_secret"), false, nil
}

// token is the client_credentials grant.
func (km *KeyManager) token(w http.ResponseWriter, r *http.Request, app *Application, form url.Values) {
	switch gt := form.Get("grant_type"); gt {
	case "client_credentials":
	case "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "grant_type is required")
		return
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "only client_credentials is supported")
		return
	}
	var requested []string
	if s := form.Get("scope"); strings.TrimSpace(s) != "" {
		requested = strings.Split(s, " ")
		for _, sc := range requested {
			if !validScope(sc) {
				oauthError(w, http.StatusBadRequest, "invalid_scope", "scope must be space-separated scope tokens")
				return
			}
		}
	}
	is, err := km.Issue(r.Context(), app, requested)
	switch {
	case errors.Is(err, ErrInvalidScope):
		oauthError(w, http.StatusBadRequest, "invalid_scope", "a requested scope is not allowed for this client")
		return
	case err != nil:
		km.cfg.Logger.Error("cannot issue a token", "client_id", app.ClientID, "error", err.Error())
		unavailable(w)
		return
	}
	body := map[string]any{
		"access_token": is.Token,
		"token_type":   "Bearer",
		"expires_in":   int64(is.ExpiresIn / time.Second),
	}
	if len(is.Record.Scopes) > 0 {
		body["scope"] = strings.Join(is.Record.Scopes, " ")
	}
	writeJSON(w, http.StatusOK, body)
}

// introspect answers RFC 7662 requests of applications allowed to.
func (km *KeyManager) introspect(w http.ResponseWriter, r *http.Request, app *Application, form url.Values) {
	if !app.Introspect {
		oauthError(w, http.StatusForbidden, "unauthorized_client", "this client may not introspect tokens")
		return
	}
	tok := form.Get("token")
	if tok == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "token is required")
		return
	}
	ans, err := km.Introspect(r.Context(), tok)
	if err != nil {
		km.cfg.Logger.Error("introspection failed", "client_id", app.ClientID, "error", err.Error())
		unavailable(w)
		return
	}
	writeJSON(w, http.StatusOK, ans)
}

// revoke is RFC 7009: 200 for unknown tokens too.
func (km *KeyManager) revoke(w http.ResponseWriter, r *http.Request, app *Application, form url.Values) {
	tok := form.Get("token")
	if tok == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "token is required")
		return
	}
	err := km.Revoke(r.Context(), app, tok)
	switch {
	case errors.Is(err, ErrInvalidClient):
		oauthError(w, http.StatusBadRequest, "unauthorized_client", "the token was not issued to this client")
		return
	case err != nil:
		km.cfg.Logger.Error("revocation failed", "client_id", app.ClientID, "error", err.Error())
		unavailable(w)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

func unavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "5")
	oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "try again later")
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
