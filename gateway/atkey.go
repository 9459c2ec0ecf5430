package gateway

// keyError is a build error about one config key — the file, secret or
// issuer it names — rather than about the operation that happened to use it
// first. BuildGeneration reports it under that key's JSON pointer, once,
// instead of once per operation under /apis/N.
type keyError struct {
	ptr string
	err error
}

func (e *keyError) Error() string { return e.err.Error() }
func (e *keyError) Unwrap() error { return e.err }

// atKey places err at the config key ptr (a JSON pointer).
func atKey(ptr string, err error) error {
	if ptr == "" {
		return err
	}
	return &keyError{ptr: ptr, err: err}
}
