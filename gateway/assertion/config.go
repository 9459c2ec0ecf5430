package assertion

import "github.com/gatehouse/gatehouse/internal/config"

// Config (upstream_identity) configures the signed identity assertion
// sent upstream.
type Config struct {
	Enabled  *bool           `json:"enabled"`
	Header   string          `json:"header"`
	Issuer   string          `json:"issuer"`
	Audience string          `json:"audience"`
	Lifetime config.Duration `json:"lifetime"`
	// KeyFile is the active signing key. Without it (and without KeyDir)
	// each process generates its own key.
	KeyFile string `json:"key_file"`
	// VerificationKeyFiles are published at /.well-known/jwks.json but never
	// sign: the next key before a rotation switches to it, the previous one
	// until what it signed has expired.
	VerificationKeyFiles []string `json:"verification_key_files"`
	// KeyDir is a directory of PEM keys (*.pem): every key in it is
	// published; key_file names the one that signs (it may live in the
	// directory). A fleet mounts one directory on every replica.
	KeyDir    string `json:"key_dir"`
	Algorithm string `json:"algorithm"`
}

// KeyFiles is the key material of a Config with the paths resolved
// (Config.Files).
type KeyFiles struct {
	Active string   // signs; "" generates a per-process key
	Verify []string // published only
	Dir    string   // every *.pem in it is published
}

// Files resolves the config's key paths with resolve (relative to the
// config file's directory).
func (c Config) Files(resolve func(string) string) KeyFiles {
	var f KeyFiles
	if c.KeyFile != "" {
		f.Active = resolve(c.KeyFile)
	}
	for _, v := range c.VerificationKeyFiles {
		f.Verify = append(f.Verify, resolve(v))
	}
	if c.KeyDir != "" {
		f.Dir = resolve(c.KeyDir)
	}
	return f
}

// Shared reports whether the config names a signing key, so every replica
// given the same files signs with the same key. Without one each process
// generates its own and an upstream holding one replica's key set rejects
// the others' assertions.
func (c Config) Shared() bool { return c.KeyFile != "" }
