// Package policybody reads and parses a request body for the policy input
// (input.request.body), for the operations that opt in. The body is read
// once, up to a limit, and put back byte for byte so the upstream receives
// exactly what the client sent; operations that do not opt in never come
// here and keep streaming.
//
// Parsing refuses what two parsers could read differently — duplicate JSON
// member names (Go's decoder keeps the last, many others the first),
// invalid UTF-8 (replaced silently by Go's decoder), trailing data, a form
// with semicolons — so the policy judges the body the upstream acts on.
// Members whose names look like credentials are left out of the parsed
// value at any depth: a password or client secret never reaches the policy,
// and so never a decision log.
package policybody

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// Errors of Read and Parse; the gateway answers each with its own status
// (gateway/pipeline/reasons.go).
var (
	// ErrTooLarge: the body is over the limit (413).
	ErrTooLarge = errors.New("request body is over the policy body limit")
	// ErrUnsupportedType: a body the gateway does not parse for the
	// policy: not JSON or a form, or content-encoded (415).
	ErrUnsupportedType = errors.New("request body type is not parsed for the policy")
	// ErrMalformed: a JSON or form body that does not parse, or parses
	// ambiguously (400).
	ErrMalformed = errors.New("request body is malformed")
)

// Kind is what a content type is parsed as.
type Kind int

// Kinds of parsed bodies.
const (
	KindNone Kind = iota
	KindJSON
	KindForm
)

// KindOf reads a Content-Type header: JSON (application/json,
// application/*+json) or a form (application/x-www-form-urlencoded), with
// no charset or charset utf-8. Anything else is ErrUnsupportedType.
func KindOf(contentType string) (Kind, error) {
	if contentType == "" {
		return KindNone, fmt.Errorf("%w: no content type", ErrUnsupportedType)
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return KindNone, fmt.Errorf("%w: content type %q: %w", ErrUnsupportedType, contentType, err)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return KindNone, fmt.Errorf("%w: charset %q (only utf-8)", ErrUnsupportedType, cs)
	}
	switch {
	case mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"):
		return KindJSON, nil
	case mt == "application/x-www-form-urlencoded":
		return KindForm, nil
	}
	return KindNone, fmt.Errorf("%w: %s", ErrUnsupportedType, mt)
}

// Read reads r's body, at most limit bytes, and replaces it with an
// identical one for the upstream. A request without a body gives nil.
// Over the limit: ErrTooLarge, and the body is not usable any more (the
// request must be refused).
func Read(r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: %d bytes declared, limit %d", ErrTooLarge, r.ContentLength, limit)
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, fmt.Errorf("%w: %w", ErrTooLarge, err)
		}
		return nil, fmt.Errorf("reading request body: %w", err)
	}
	if int64(len(raw)) > limit {
		return nil, fmt.Errorf("%w: limit %d", ErrTooLarge, limit)
	}
	_ = r.Body.Close()
	if len(raw) == 0 {
		r.Body, r.ContentLength = http.NoBody, 0
		return nil, nil
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	r.ContentLength = int64(len(raw))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }
	return raw, nil
}

type unavailableKey struct{}

// WithUnavailable marks a request whose body a front door could not pass
// on whole (NGINX auth_request and forward_auth send none; Envoy may send
// part): an operation whose policy reads the body then fails closed.
func WithUnavailable(ctx context.Context) context.Context {
	return context.WithValue(ctx, unavailableKey{}, true)
}

// Unavailable reports WithUnavailable.
func Unavailable(ctx context.Context) bool {
	v, _ := ctx.Value(unavailableKey{}).(bool)
	return v
}

// EncodedBody reports a Content-Encoding other than identity: such a body
// is what the upstream decodes, not what the gateway could parse.
func EncodedBody(h http.Header) bool {
	for _, v := range h.Values("Content-Encoding") {
		for _, e := range strings.Split(v, ",") {
			if e = strings.TrimSpace(e); e != "" && !strings.EqualFold(e, "identity") {
				return true
			}
		}
	}
	return false
}
