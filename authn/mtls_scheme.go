package authn

import "fmt"

// mtlsScheme serves OpenAPI mutualTLS schemes (and the gateway's synthetic
// scheme of the x-gatehouse-mtls extensions). Client certificates are
// trusted per API, so unlike other schemes an mtls authenticator is built
// per (scheme, API).
var mtlsScheme = SchemeType{
	Serves: func(d SchemeDecl) bool { return d.Type == "mutualTLS" },
	PerAPI: true,
	Build: func(in SchemeBuild) (Authenticator, error) {
		cfg, apiTTL, err := in.Env.ClientCertificates()
		if err != nil {
			return nil, err
		}
		var opts []Option
		if apiTTL != 0 {
			opts = append(opts, WithCacheTTL(apiTTL))
		}
		if in.Config.CacheTTL != 0 {
			opts = append(opts, WithCacheTTL(in.Config.CacheTTL.D()))
		}
		a, err := NewMTLS(in.Decl.Name, cfg, opts...)
		if err != nil {
			return nil, fmt.Errorf("%w %q: %w", ErrScheme, in.Decl.Name, err)
		}
		return a, nil
	},
}
