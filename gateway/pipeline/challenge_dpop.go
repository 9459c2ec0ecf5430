package pipeline

import (
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/dpop"
	"github.com/gatehouse/gatehouse/bundles"
)

// DPoPHeader is the canonical name of the DPoP request header.
const DPoPHeader = "Dpop"

// dpopChallenge is the DPoP side of a bearer scheme's challenge (RFC 9449
// §7.1): `DPoP realm="…", algs="…"`, with error="invalid_dpop_proof" or
// "use_dpop_nonce" when the scheme's proof was refused for that, and a
// fresh DPoP-Nonce header when the gateway issues nonces (§9).
type dpopChallenge struct {
	mode     authn.DPoPMode
	algs     string
	verifier *dpop.Verifier
}

func newDPoPChallenge(dc authn.DPoPChallenger) dpopChallenge {
	mode, v := dc.DPoP()
	if v == nil || mode == authn.DPoPOff {
		return dpopChallenge{}
	}
	return dpopChallenge{mode: mode, algs: strings.Join(v.Algorithms(), " "), verifier: v}
}

// dpopReason reports whether a rejection reason is about the DPoP proof.
func dpopReason(r string) bool {
	return r == string(authn.ReasonInvalidDPoPProof) || r == string(authn.ReasonUseDPoPNonce)
}

func (dc dpopChallenge) write(h http.Header, c challenge, d *bundles.Decision, reason Reason, dn Answer) {
	var b strings.Builder
	b.WriteString("DPoP realm=")
	b.WriteString(quote(c.realm))
	b.WriteString(", algs=")
	b.WriteString(quote(dc.algs))
	rr, bad := d.Rejected[c.scheme]
	errCode := ""
	switch {
	case reason == ReasonInsufficientScope:
		errCode = "insufficient_scope"
	case bad && dpopReason(rr):
		errCode = rr
	case dn.BearerError != "" && (bad || reason == ReasonRevoked || reason == ReasonBindingRequired):
		errCode = dn.BearerError
	}
	if errCode != "" {
		b.WriteString(`, error="`)
		b.WriteString(errCode)
		b.WriteString(`"`)
	}
	h.Add("WWW-Authenticate", b.String())
	if n := dc.verifier.Nonce(); n != "" && h.Get("DPoP-Nonce") == "" {
		h.Set("DPoP-Nonce", n)
	}
}
