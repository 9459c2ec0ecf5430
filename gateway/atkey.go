package gateway

import shared "github.com/gatehouse/gatehouse/internal/config"

// keyError is a build error about one config key (internal/config.KeyError):
// BuildGeneration and Check report it under that key's JSON pointer, once,
// instead of once per operation under /apis/N.
type keyError = shared.KeyError

// atKey places err at the config key ptr (a JSON pointer).
func atKey(ptr string, err error) error { return shared.AtKey(ptr, err) }
