package keymanager

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/authn"
)

// Applications are the OAuth 2.0 clients the key manager knows. Their one
// source of truth is the bundle data, next to their subscriptions, under
// the key manager's name (the identity source of its tokens: application
// ids are only unique within one source, docs/migrating-bundle-data.md):
//
//	data.gatehouse.applications["gatehouse"]["shop-web"] = {
//	  "name": "Shop web front end",
//	  "oauth2": {
//	    "client_id": "shop-web",            // default: the application id
//	    "client_secrets": ["$2y$10$…"],     // bcrypt or argon2id hashes; two during a rotation
//	    "scopes": ["orders:read"],          // what it may request (default: nothing)
//	    "introspect": false                 // may call the introspection endpoint (resource servers)
//	  }
//	}
//
// `gatehouse app create` and `gatehouse app secret rotate` edit that data
// file. Applications without an oauth2 member are not clients.
type Applications struct {
	byClient map[string]*Application
}

// Application is one client.
type Application struct {
	ID         string
	ClientID   string
	Scopes     []string // sorted
	Introspect bool
	hashes     []secretHash
}

// MaxClientSecrets bounds the hashes of one client (a rotation overlaps two).
const MaxClientSecrets = 5

// Client returns the application whose client_id is id.
func (a *Applications) Client(id string) *Application {
	if a == nil {
		return nil
	}
	return a.byClient[id]
}

// Allows reports whether the application may hold scope.
func (app *Application) Allows(scope string) bool {
	i := sort.SearchStrings(app.Scopes, scope)
	return i < len(app.Scopes) && app.Scopes[i] == scope
}

// ParseApplications reads the key manager's applications,
// data.gatehouse.applications[<name>] (raw is its decoded JSON value, nil
// when absent). Any malformed client is an error: the
// generation that carries it does not load, the previous one keeps serving.
func ParseApplications(raw any) (*Applications, error) {
	apps := &Applications{byClient: map[string]*Application{}}
	if raw == nil {
		return apps, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("applications must be an object")
	}
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		entry, ok := m[id].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("applications[%q] must be an object", id)
		}
		o, present := entry["oauth2"]
		if !present {
			continue
		}
		app, err := parseClient(id, o)
		if err != nil {
			return nil, fmt.Errorf("applications[%q].oauth2: %w", id, err)
		}
		if other, dup := apps.byClient[app.ClientID]; dup {
			return nil, fmt.Errorf("applications[%q].oauth2: client_id %q is also the client_id of %q", id, app.ClientID, other.ID)
		}
		apps.byClient[app.ClientID] = app
	}
	return apps, nil
}

func parseClient(id string, raw any) (*Application, error) {
	// Through JSON so unknown members are caught the same way as in the
	// data schema.
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var c struct {
		ClientID      *string  `json:"client_id"`
		ClientSecrets []string `json:"client_secrets"`
		Scopes        []string `json:"scopes"`
		Introspect    bool     `json:"introspect"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("must be {client_id?, client_secrets, scopes?, introspect?}: %w", err)
	}
	app := &Application{ID: id, ClientID: id, Introspect: c.Introspect}
	if c.ClientID != nil {
		app.ClientID = *c.ClientID
	}
	if !validClientID(app.ClientID) {
		return nil, fmt.Errorf("client_id %q must be 1-128 visible ASCII characters without ':'", app.ClientID)
	}
	if len(c.ClientSecrets) == 0 || len(c.ClientSecrets) > MaxClientSecrets {
		return nil, fmt.Errorf("client_secrets must list 1 to %d hashes", MaxClientSecrets)
	}
	for i, s := range c.ClientSecrets {
		h, err := ParseSecretHash(s)
		if err != nil {
			return nil, fmt.Errorf("client_secrets[%d]: %w", i, err)
		}
		app.hashes = append(app.hashes, h)
	}
	for _, s := range c.Scopes {
		if !validScope(s) {
			return nil, fmt.Errorf("scope %q is not an RFC 6749 scope token", s)
		}
	}
	app.Scopes = authn.SortedUnique(c.Scopes)
	return app, nil
}

// validClientID: visible ASCII, no ':' (it separates id and secret in
// Basic credentials).
func validClientID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' || s[i] == ':' {
			return false
		}
	}
	return true
}

// validScope: RFC 6749 §3.3 scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
func validScope(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
