package gateway

import (
	"context"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/gateway/check"
	"github.com/gatehouse/gatehouse/gateway/config"
	"github.com/gatehouse/gatehouse/gateway/openapi"
)

// BuildForCheck is the build `gatehouse check` runs (gateway/check): the
// whole generation `run` would serve, without a Server. A generation the
// build returns beside an error is handed on, for check to close.
func BuildForCheck(ctx context.Context, cfg *config.Config, opts check.BuildOptions) (check.Generation, error) {
	g, err := BuildGeneration(ctx, cfg, BuildOptions{Logger: opts.Logger, Remote: opts.Remote, KMStores: opts.KMStores})
	if g == nil {
		return nil, err
	}
	return checked{g}, err
}

// checked is what gateway/check reads of a generation.
type checked struct{ g *Generation }

var _ check.Generation = checked{}

func (c checked) Revision() string { return c.g.Engine.Revision() }

func (c checked) APIs() []*openapi.API {
	out := make([]*openapi.API, len(c.g.APIs))
	for i, a := range c.g.APIs {
		out[i] = a.API
	}
	return out
}

func (c checked) UsesIssuer(name string) bool { return c.g.usedIssuers[name] }

func (c checked) KeyManager(name string) (authn.KeyManager, bool) {
	km, ok := c.g.keyManagers[name]
	return km, ok
}

func (c checked) KeySources() []*authn.RemoteJWKS { return c.g.jwks }

func (c checked) Close() error { return c.g.Close() }
