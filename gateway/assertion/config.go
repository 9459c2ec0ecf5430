package assertion

import "github.com/gatehouse/gatehouse/internal/config"

// Config (upstream_identity) configures the signed identity assertion
// sent upstream.
type Config struct {
	Enabled   *bool           `json:"enabled"`
	Header    string          `json:"header"`
	Issuer    string          `json:"issuer"`
	Audience  string          `json:"audience"`
	Lifetime  config.Duration `json:"lifetime"`
	KeyFile   string          `json:"key_file"`
	Algorithm string          `json:"algorithm"`
}
