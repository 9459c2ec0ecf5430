package authn

import (
	"fmt"

	"github.com/gatehouse/gatehouse/internal/config"
)

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

// basicScheme serves OpenAPI http basic schemes from a users file.
var basicScheme = SchemeType{
	Serves: func(d SchemeDecl) bool { return d.Type == "http" && d.HTTPScheme == "basic" },
	Build: func(in SchemeBuild) (Authenticator, error) {
		name, sc := in.Decl.Name, in.Config
		users, err := LoadUsers(name, in.Env.File(sc.UsersFile), in.Env.File(sc.UsersMetaFile))
		if err != nil {
			return nil, config.AtKey("/schemes/"+config.EscapePointer(name), fmt.Errorf("%w %q: %w", ErrScheme, name, err))
		}
		return NewBasic(name, users, sc.commonOptions([]Option{WithLogger(in.Env.Logger("authn.basic"))})...)
	},
}
