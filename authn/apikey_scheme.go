package authn

import "fmt"

// apiKeyScheme serves OpenAPI apiKey schemes: keys of the token service
// (when api_keys is configured) and static keys from the bundle data, read
// where the API definition says.
var apiKeyScheme = SchemeType{
	Serves: func(d SchemeDecl) bool { return d.Type == "apiKey" },
	Build: func(in SchemeBuild) (Authenticator, error) {
		cfg := in.Env.APIKeys()
		cfg.Location = APIKeyLocation{In: in.Decl.In, Name: in.Decl.ParamName}
		var opts []Option
		if in.Config.CacheTTL != 0 {
			opts = append(opts, WithCacheTTL(in.Config.CacheTTL.D()))
		}
		a, err := NewAPIKey(in.Decl.Name, cfg, opts...)
		if err != nil {
			return nil, fmt.Errorf("%w %q: %w", ErrScheme, in.Decl.Name, err)
		}
		return a, nil
	},
}
