package check

import (
	"context"

	"github.com/hashicorp/go-hclog"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/keymanager"
	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/gateway/config"
	"github.com/gatehouse/gatehouse/gateway/openapi"
)

// Builder builds a generation from cfg as `gatehouse run` does
// (gateway.BuildForCheck). check takes it as a value so that it depends
// on the config and on what the build found, not on the gateway's wiring.
type Builder func(ctx context.Context, cfg *config.Config, opts BuildOptions) (Generation, error)

// BuildOptions is what check hands the build.
type BuildOptions struct {
	Logger hclog.Logger
	// Remote are the bundles -online downloaded from bundle services.
	Remote []*bundles.Source
	// KMStores holds the internal key manager's token stores when -online
	// opens them; nil: the build opens none it does not need.
	KMStores *keymanager.Stores
}

// Generation is what check reads of a built generation. A build that
// fails may still return one; check closes it.
type Generation interface {
	// Revision is the compiled policy's bundle revision.
	Revision() string
	// APIs are the API definitions the generation serves.
	APIs() []*openapi.API
	// UsesIssuer says whether a scheme some operation uses trusts the
	// issuer of that name.
	UsesIssuer(name string) bool
	// KeyManager is the key manager of that name, if a scheme some
	// operation uses calls it.
	KeyManager(name string) (authn.KeyManager, bool)
	// KeySources are the remote key sets the generation's issuers use.
	KeySources() []*authn.RemoteJWKS
	Close() error
}
