package dpop_test

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/authn/authntest"
	"github.com/gatehouse/gatehouse/authn/dpop"
)

// FuzzParse feeds arbitrary DPoP header values to the proof parser.
// Invariants: no panic; an accepted proof has a thumbprint, a jti, htm and
// htu, and an algorithm from the allow-list; a refusal is a *dpop.Error
// whose detail never quotes the input.
func FuzzParse(f *testing.F) {
	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		s := authntest.Must(authntest.NewSigner(alg))
		f.Add(authntest.Must(s.DPoPProof("GET", "https://a.example/x", "tok")))
		f.Add(authntest.Must(s.DPoPProof("POST", "https://a.example/x", "", authntest.ProofHeader("jwk", authntest.Must(s.PrivateJWKMap())))))
	}
	f.Add("")
	f.Add("..")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6Im9jdCIsImsiOiJBQSJ9fQ.e30.AA")
	f.Add(strings.Repeat("A", dpop.MaxProofSize+1))
	f.Fuzz(func(t *testing.T, proof string) {
		p, err := dpop.Parse(proof, dpop.DefaultAlgorithms)
		if err != nil {
			de, ok := err.(*dpop.Error)
			if !ok {
				t.Fatalf("error %T is not a *dpop.Error", err)
			}
			if len(proof) > 16 && strings.Contains(de.Detail, proof) {
				t.Fatal("the error quotes the proof")
			}
			return
		}
		if p.JKT == "" || p.JTI == "" || p.HTM == "" || p.HTU == "" {
			t.Fatalf("accepted proof lacks a member: %+v", p)
		}
	})
}
