package gateway

import "github.com/gatehouse/gatehouse/authn"

// internalKeyManager returns the internal key manager when name is its
// name (ok reports whether it is).
func (f *authnFactory) internalKeyManager(name string) (km authn.KeyManager, ok bool, err error) {
	return nil, false, nil
}
