package edge

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/config"
)

// CORS, per API (apis[].cors). The gateway answers preflight requests itself
// — an OPTIONS with Origin and Access-Control-Request-Method — before any
// authentication and without calling the upstream: 204 with the allow
// headers when the origin is listed, the requested method has an operation
// on that path, and every requested header is allowed; 403 otherwise. On
// other requests from a listed origin it sets Access-Control-Allow-Origin
// (and the rest) on every answer, denials included, so browsers can read a
// 401; the upstream's own Access-Control-* headers are replaced. APIs
// without cors get none of this: their OPTIONS requests route as any other.

// CORSConfig is an API's CORS policy.
type CORSConfig struct {
	// AllowedOrigins are exact origins ("https://app.example"), or "*".
	AllowedOrigins []string `json:"allowed_origins"`
	// AllowedHeaders are request headers a preflight may ask for
	// (case-insensitive); CORS-safelisted ones need not be listed.
	AllowedHeaders []string `json:"allowed_headers"`
	// ExposedHeaders are response headers scripts may read.
	ExposedHeaders   []string `json:"exposed_headers"`
	AllowCredentials bool     `json:"allow_credentials"`
	// MaxAge is how long browsers may cache a preflight answer.
	MaxAge config.Duration `json:"max_age"`
}

// CORS is a CORSConfig prepared once per generation.
type CORS struct {
	any         bool
	origins     map[string]bool
	headers     map[string]bool // lower case
	allowHeader string
	expose      string
	credentials bool
	maxAge      string
}

// NewCORS prepares c; nil for none.
func NewCORS(c *CORSConfig) *CORS {
	if c == nil {
		return nil
	}
	p := &CORS{origins: map[string]bool{}, headers: map[string]bool{}, credentials: c.AllowCredentials}
	for _, o := range c.AllowedOrigins {
		if o == "*" {
			p.any = true
		}
		p.origins[o] = true
	}
	for _, h := range c.AllowedHeaders {
		p.headers[strings.ToLower(h)] = true
	}
	p.allowHeader = strings.Join(c.AllowedHeaders, ", ")
	p.expose = strings.Join(c.ExposedHeaders, ", ")
	if c.MaxAge > 0 {
		p.maxAge = strconv.Itoa(int(c.MaxAge.D().Seconds()))
	}
	return p
}

// Allows reports whether origin may read answers.
func (p *CORS) Allows(origin string) bool {
	return origin != "" && (p.origins[origin] || p.any && origin != "null")
}

// SetOrigin writes the headers every answer to a listed origin carries.
func (p *CORS) SetOrigin(h http.Header, origin string) {
	for k := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			delete(h, k)
		}
	}
	if p.any && !p.credentials {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
	}
	if p.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if p.expose != "" {
		h.Set("Access-Control-Expose-Headers", p.expose)
	}
}

// IsPreflight reports a CORS preflight request.
func IsPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// Preflight answers a preflight: the headers of a 204, or nil for a 403.
// hasMethod reports whether the requested method has an operation on the
// request's path in the API this policy belongs to.
func (p *CORS) Preflight(r *http.Request, hasMethod func(method string) bool) http.Header {
	origin := r.Header.Get("Origin")
	method := strings.TrimSpace(r.Header.Get("Access-Control-Request-Method"))
	if !p.Allows(origin) || method == "" {
		return nil
	}
	// The requested method must have an operation on this path.
	if !hasMethod(method) {
		return nil
	}
	for _, h := range strings.Split(r.Header.Get("Access-Control-Request-Headers"), ",") {
		h = strings.ToLower(strings.TrimSpace(h))
		if h != "" && !p.headers[h] && !safelisted(h) {
			return nil
		}
	}
	out := http.Header{}
	p.SetOrigin(out, origin)
	out.Set("Access-Control-Allow-Methods", method)
	if p.allowHeader != "" {
		out.Set("Access-Control-Allow-Headers", p.allowHeader)
	}
	if p.maxAge != "" {
		out.Set("Access-Control-Max-Age", p.maxAge)
	}
	out.Add("Vary", "Access-Control-Request-Method")
	out.Add("Vary", "Access-Control-Request-Headers")
	return out
}

// safelisted request headers never need permission (Fetch standard).
func safelisted(h string) bool {
	return slices.Contains([]string{"accept", "accept-language", "content-language", "content-type"}, h)
}

// Check reports problems of an API's cors block at ptr.
func (c *CORSConfig) Check(ptr string, add func(ptr, format string, args ...any)) {
	if c.AllowCredentials && slices.Contains(c.AllowedOrigins, "*") {
		add(ptr+"/allow_credentials",
			"allow_credentials with allowed_origins \"*\" would let every site make credentialed requests: list the origins")
	}
}
