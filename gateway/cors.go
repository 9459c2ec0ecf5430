package gateway

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
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
	MaxAge Duration `json:"max_age"`
}

// corsPolicy is a CORSConfig prepared once per generation.
type corsPolicy struct {
	any         bool
	origins     map[string]bool
	headers     map[string]bool // lower case
	allowHeader string
	expose      string
	credentials bool
	maxAge      string
}

func newCORSPolicy(c *CORSConfig) *corsPolicy {
	if c == nil {
		return nil
	}
	p := &corsPolicy{origins: map[string]bool{}, headers: map[string]bool{}, credentials: c.AllowCredentials}
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

func (p *corsPolicy) allows(origin string) bool {
	return origin != "" && (p.origins[origin] || p.any && origin != "null")
}

// setOrigin writes the headers every answer to a listed origin carries.
func (p *corsPolicy) setOrigin(h http.Header, origin string) {
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

// isPreflight reports a CORS preflight request.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// corsAPI is the API whose base path serves path (longest first), if it has
// a CORS policy.
func (g *Generation) corsAPI(path string) *compiledAPI {
	var best *compiledAPI
	for _, a := range g.APIs {
		bp := a.BasePath
		if a.cors != nil && strings.HasPrefix(path, bp) && (len(path) == len(bp) || path[len(bp)] == '/') &&
			(best == nil || len(bp) > len(best.BasePath)) {
			best = a
		}
	}
	return best
}

// preflight answers a preflight for api: the headers of a 204, or nil for
// a 403.
func (g *Generation) preflight(r *http.Request, api *compiledAPI) http.Header {
	p := api.cors
	origin := r.Header.Get("Origin")
	method := strings.TrimSpace(r.Header.Get("Access-Control-Request-Method"))
	if !p.allows(origin) || method == "" {
		return nil
	}
	// The requested method must have an operation on this path.
	probe := r.Clone(r.Context())
	probe.Method = method
	if op, err := g.match(probe); err != nil || op.api != api {
		return nil
	}
	for _, h := range strings.Split(r.Header.Get("Access-Control-Request-Headers"), ",") {
		h = strings.ToLower(strings.TrimSpace(h))
		if h != "" && !p.headers[h] && !safelisted(h) {
			return nil
		}
	}
	out := http.Header{}
	p.setOrigin(out, origin)
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

// checkCORS is the part of Config.check for apis[].cors.
func (c *Config) checkCORS(add func(ptr, format string, args ...any)) {
	for i, a := range c.APIs {
		if a.CORS != nil && a.CORS.AllowCredentials && slices.Contains(a.CORS.AllowedOrigins, "*") {
			add("/apis/"+strconv.Itoa(i)+"/cors/allow_credentials",
				"allow_credentials with allowed_origins \"*\" would let every site make credentialed requests: list the origins")
		}
	}
}
