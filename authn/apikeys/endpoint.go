package apikeys

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"

	"github.com/hashicorp/go-hclog"

	"github.com/gatehouse/gatehouse/authn"
)

// MaxRequestBody bounds the JSON body of an issuing request.
const MaxRequestBody = 64 << 10

// Endpoint is the HTTP face of the service: POST a Request, get an Issued
// (201). The endpoint authenticates its callers itself, with either or both
// of:
//
//   - HTTP Basic users (authn.Basic) who are members of Group;
//   - a client certificate verified by the listener against the configured
//     CAs (tls.VerifyClientCertIfGiven), optionally restricted to
//     AllowedCommonNames.
//
// No credential: 401 with a Basic challenge (when Basic is configured).
// Wrong password: 401. Authenticated but not allowed to issue: 403. A bad
// request: 400 with a message (the caller is an authenticated operator).
// Every issued key is logged by id (jti), subject, application, APIs and
// expiry, with the caller; never the key.
type Endpoint struct {
	Service *Service
	// Basic authenticates Basic callers; nil disables Basic.
	Basic *authn.Basic
	// Group a Basic user must belong to (users meta file groups).
	Group string
	// ClientCerts enables client-certificate callers; the listener must
	// verify the chain (VerifiedChains is trusted here).
	ClientCerts bool
	// AllowedCommonNames restricts certificate callers; empty: any
	// certificate the CAs verify.
	AllowedCommonNames []string
	Logger             hclog.Logger
}

// ServeHTTP implements the endpoint.
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	caller, status, msg := e.authenticate(r)
	if status != 0 {
		if status == http.StatusUnauthorized && e.Basic != nil {
			w.Header().Set("WWW-Authenticate", e.Basic.Challenge())
		}
		e.log().Warn("api key request refused", "caller", caller, "status", status, "remote", r.RemoteAddr)
		writeError(w, status, msg)
		return
	}
	req, err := decodeRequest(w, r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	out, err := e.Service.Issue(req)
	switch {
	case errors.Is(err, ErrInvalidRequest):
		e.log().Info("api key request invalid", "caller", caller, "error", err.Error())
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case errors.Is(err, ErrCannotIssue):
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	case err != nil:
		e.log().Error("api key signing failed", "caller", caller, "error", err.Error())
		writeError(w, http.StatusInternalServerError, "the key could not be signed")
		return
	}
	exp := "never"
	if out.ExpiresAt != nil {
		exp = out.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z")
	}
	e.log().Info("api key issued", "jti", out.ID, "subject", out.Subject, "application", out.Application,
		"apis", apiString(out.APIs), "plan", out.Plan, "expires", exp, "caller", caller, "kid", e.Service.KeyID())
	body, _ := json.Marshal(out)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(body)
}

func (e *Endpoint) log() hclog.Logger {
	if e.Logger == nil {
		return hclog.NewNullLogger()
	}
	return e.Logger
}

// authenticate returns the caller's name, or a status and message.
func (e *Endpoint) authenticate(r *http.Request) (caller string, status int, msg string) {
	if e.ClientCerts && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		leaf := r.TLS.VerifiedChains[0][0]
		caller = "cert:" + leaf.Subject.CommonName
		if !certAllowed(leaf, e.AllowedCommonNames) {
			return caller, http.StatusForbidden, "this certificate may not issue API keys"
		}
		return caller, 0, ""
	}
	if e.Basic == nil {
		return "", http.StatusUnauthorized, "a client certificate is required"
	}
	id, err := e.Basic.Authenticate(r)
	switch {
	case errors.Is(err, authn.ErrNoCredentials):
		return "", http.StatusUnauthorized, "credentials are required"
	case err != nil:
		if _, rejected := authn.AsRejection(err); rejected {
			return "", http.StatusUnauthorized, "invalid credentials"
		}
		return "", http.StatusServiceUnavailable, "authentication unavailable"
	}
	caller = "basic:" + id.Subject
	if e.Group == "" || !slices.Contains(id.Groups, e.Group) {
		return caller, http.StatusForbidden, "this user may not issue API keys"
	}
	return caller, 0, ""
}

func certAllowed(c *x509.Certificate, names []string) bool {
	return len(names) == 0 || slices.Contains(names, c.Subject.CommonName)
}

func decodeRequest(w http.ResponseWriter, r *http.Request) (Request, error) {
	var req Request
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBody))
	if err != nil {
		return req, errors.New("request body too large or unreadable")
	}
	return ParseRequest(body)
}

// ParseRequest decodes a JSON issuing request strictly: one object, no
// unknown members, nothing after it.
func ParseRequest(body []byte) (Request, error) {
	var req Request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return Request{}, errors.New("body must be a JSON object with members apis, all_apis, validity, no_expiry, subject, application, plan, scopes")
	}
	if dec.More() {
		return Request{}, errors.New("body must hold exactly one JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return Request{}, errors.New("body must hold exactly one JSON object")
	}
	return req, nil
}

func writeError(w http.ResponseWriter, status int, msg string) {
	body, _ := json.Marshal(map[string]any{
		"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": msg,
	})
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
