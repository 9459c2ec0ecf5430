package pipeline

import (
	"errors"
	"net/http"

	"github.com/gorilla/mux"
	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/gateway/assertion"
	"github.com/gatehouse/gatehouse/gateway/edge"
	"github.com/gatehouse/gatehouse/gateway/openapi"
)

// API is one API definition with what a generation prepared for it once.
type API struct {
	*openapi.API
	// CORS is the API's CORS policy (nil: none; gateway/edge/cors.go).
	CORS *edge.CORS
	// Value is input.api.
	Value *ast.Term
	// Transport carries the reverse proxy's requests to the API's upstream
	// (one per upstream, shared across generations: gateway/proxy). The
	// decision core never calls it.
	Transport http.RoundTripper
}

// Op is an operation with everything the request path needs prepared once
// per generation: its authenticators in scheme order, the credentials it
// consumes, its challenges and the prepared parts of its policy input.
type Op struct {
	*openapi.Operation
	API *API
	// Input is what the policy input keeps of the operation: the prepared
	// parts and the credential headers.
	Input          OpInput
	authenticators []authn.Authenticator // same order as Operation.Schemes
	// mtls: the operation can take a client certificate (SNI/Host check).
	mtls bool
	// secretHeaders are canonical header names that carry credentials for
	// this operation; they never reach the policy input or the upstream.
	secretHeaders map[string]struct{}
	// APIKeyHeaders are the canonical names of API key headers (also in
	// secretHeaders).
	APIKeyHeaders []string
	stripQuery    []string // API key query parameters to remove
	stripCookies  []string // API key cookies to remove
	challenges    []challenge
	// assert is what the identity assertion says about the operation (and
	// the key of the generation's assertion cache).
	assert assertion.Operation
	// readsAuthorization: some scheme of the operation reads the
	// Authorization header (http, oauth2, openIdConnect), which is then never
	// forwarded.
	readsAuthorization bool
	// noQueryToken: a bearer operation that refuses access_token in the
	// query (querytoken.go).
	noQueryToken bool
	// Plan is the operation's specialised decision in its generation's
	// engine (bundles/plan.go); nil: the full decision query.
	Plan *bundles.Plan
}

// NewOp prepares op of api with the authenticators of its schemes (in
// op.Schemes order). realm names the realm of a scheme's 401 challenge.
func NewOp(api *API, op *openapi.Operation, authenticators []authn.Authenticator, realm func(scheme string) string) *Op {
	c := &Op{
		Operation:     op,
		API:           api,
		Input:         OpInput{API: api.Value, Operation: OperationValue(op), Schemes: SchemesValue(op), NumSchemes: len(op.Schemes)},
		secretHeaders: map[string]struct{}{"Authorization": {}, "Proxy-Authorization": {}, "Cookie": {}},
		mtls:          usesMTLS(api.API, op),
		assert:        assertion.Operation{API: api.Name, Version: api.Version, ID: op.ID},
	}
	c.Input.PathParams, c.Input.PathSegs = CompilePathParams(api.BasePath + op.Path)
	c.Input.ReadsBody = op.PolicyBody
	for i, name := range op.Schemes {
		def := api.Schemes[name]
		a := authenticators[i]
		c.authenticators = append(c.authenticators, a)
		switch def.Type {
		case "http", "oauth2", "openIdConnect":
			c.readsAuthorization = true
		}
		if dc, ok := a.(authn.DPoPChallenger); ok {
			if mode, _ := dc.DPoP(); mode != authn.DPoPOff {
				// The proof is a credential: kept out of the policy input
				// and never forwarded.
				c.secretHeaders[DPoPHeader] = struct{}{}
			}
		}
		if l, ok := a.(authn.Located); ok {
			loc := l.Location()
			switch loc.In {
			case authn.InHeader:
				h := http.CanonicalHeaderKey(loc.Name)
				c.secretHeaders[h] = struct{}{}
				c.APIKeyHeaders = append(c.APIKeyHeaders, h)
			case authn.InQuery:
				c.stripQuery = append(c.stripQuery, loc.Name)
			case authn.InCookie:
				c.stripCookies = append(c.stripCookies, loc.Name)
			}
		}
		if ch, ok := challengeFor(def, a, realm(name)); ok {
			c.challenges = append(c.challenges, ch)
		}
	}
	authn.ExclusiveKeys(c.authenticators)
	c.noQueryToken = refusesQueryToken(c)
	c.Input.SecretHeaders = c.secretHeaders
	c.Input.StripQuery = c.stripQuery
	return c
}

// usesMTLS reports whether an operation can take a client certificate.
func usesMTLS(api *openapi.API, op *openapi.Operation) bool {
	for _, n := range op.Schemes {
		if api.Schemes[n].Type == "mutualTLS" {
			return true
		}
	}
	return false
}

// Routes matches a request to its operation: the OpenAPI path templates
// of every API of a generation under their base paths.
type Routes struct{ router *mux.Router }

// NewRoutes returns an empty route table.
func NewRoutes() *Routes {
	r := mux.NewRouter()
	r.NotFoundHandler = http.NotFoundHandler()
	return &Routes{router: r}
}

// opHandler lets a mux match hand back the operation without a map lookup.
type opHandler struct{ op *Op }

func (opHandler) ServeHTTP(http.ResponseWriter, *http.Request) {}

// Add registers the operation; HEAD follows GET's security unless the
// document defines HEAD itself.
func (rs *Routes) Add(op *Op) {
	tmpl := op.API.BasePath + op.Path
	methods := []string{op.Method}
	if op.Method == http.MethodGet && !hasOperation(op.API.API, http.MethodHead, op.Path) {
		methods = append(methods, http.MethodHead)
	}
	rs.router.Handle(tmpl, opHandler{op}).Methods(methods...)
}

func hasOperation(api *openapi.API, method, path string) bool {
	for _, o := range api.Operations {
		if o.Method == method && o.Path == path {
			return true
		}
	}
	return false
}

// Match finds the operation for a request path and method.
func (rs *Routes) Match(r *http.Request) (*Op, error) {
	var m mux.RouteMatch
	if rs.router.Match(r, &m) {
		if h, ok := m.Handler.(opHandler); ok {
			return h.op, nil
		}
	}
	if errors.Is(m.MatchErr, mux.ErrMethodMismatch) {
		return nil, ErrMethodNotAllowed
	}
	return nil, ErrNoRoute
}

// ErrNoRoute and ErrMethodNotAllowed are Match's answers for a path no
// operation serves and for a known path with another method.
var (
	ErrNoRoute          = errors.New("no such route")
	ErrMethodNotAllowed = errors.New("method not allowed")
)
