package config

// IdentityKeyPointer is where a problem with the assertion key set is
// reported: the key file when one is configured, else the block.
func IdentityKeyPointer(ui IdentityConfig) string {
	switch {
	case ui.KeyFile != "":
		return "/upstream_identity/key_file"
	case ui.KeyDir != "":
		return "/upstream_identity/key_dir"
	case len(ui.VerificationKeyFiles) > 0:
		return "/upstream_identity/verification_key_files"
	}
	return "/upstream_identity"
}
