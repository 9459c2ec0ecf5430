package pipeline

import "github.com/gatehouse/gatehouse/authn"

// Outcome is what one authenticator of the operation made of the request:
// a verified identity, or a rejection of a presented-but-invalid
// credential. A credential that was not presented leaves no outcome.
type Outcome struct {
	// Scheme is the OpenAPI security scheme name.
	Scheme string
	// Identity is the verified identity (nil for a rejection).
	Identity *authn.Identity
	// Rejection says why a presented credential was refused (nil when
	// verified).
	Rejection *authn.Rejection
	// Position is the scheme's index in the operation's scheme list.
	Position int
}

// Outcomes are an operation's outcomes, in its scheme order.
type Outcomes []Outcome

// Verified counts the verified identities.
func (os Outcomes) Verified() int {
	n := 0
	for _, o := range os {
		if o.Identity != nil {
			n++
		}
	}
	return n
}

// Rejected counts the rejections.
func (os Outcomes) Rejected() int { return len(os) - os.Verified() }
