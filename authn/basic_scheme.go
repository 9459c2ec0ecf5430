package authn

// BasicSchemeConfig is what a basic scheme adds to schemes.<name>: the
// users file (LoadUsers) and its optional metadata file.
type BasicSchemeConfig struct {
	UsersFile     string `json:"users_file"`
	UsersMetaFile string `json:"users_meta_file"`
}

func (b *BasicSchemeConfig) validate(ptr string, add func(ptr, format string, args ...any)) {
	if b.UsersFile == "" {
		add(ptr+"/users_file", "a basic scheme needs users_file")
	}
}
