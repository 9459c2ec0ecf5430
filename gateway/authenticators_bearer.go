package gateway

import (
	"fmt"

	"github.com/gatehouse/gatehouse/authn"
)

func (f *authnFactory) bearer(name string, sc SchemeConfig) (authn.Authenticator, error) {
	return nil, fmt.Errorf("%w %q: bearer not wired yet", ErrScheme, name)
}
