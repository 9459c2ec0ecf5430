package authn_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authn"
	"github.com/gatehouse/gatehouse/authn/authntest"
)

// TestForgedTokenRemembered: a token whose signature the issuer's key
// refused is refused again, for the same reason, without a second
// verification (ForgedStats counts the lookup that found it); a rotation
// that stops publishing the refusing key forgets it, so a token that the
// new key set does verify is accepted; nothing else is remembered.
func TestForgedTokenRemembered(t *testing.T) {
	clock := newClock()
	srv := authntest.NewIssuer(t, authntest.WithAlg("RS256"))
	src := remote(t, srv, clock, nil)
	if err := src.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	j := remoteJWT(t, srv, src, clock)
	forger := authntest.Must(authntest.NewSigner("RS256", authntest.WithKID(srv.Signer().KID())))
	forged := mint(t, forger, claimsAt(srv, clock))
	valid := mint(t, srv.Signer(), claimsAt(srv, clock))
	wrongAud := mint(t, srv.Signer(), authntest.Claims(srv.Issuer(), "another-api", clock.Now(), time.Hour))

	steps := []struct {
		name     string
		token    string
		reason   authn.Reason // "": verifies
		wantHits uint64       // ForgedStats hits after the step
	}{
		{"forged/first", forged, authn.ReasonInvalidSignature, 0},
		{"forged/again", forged, authn.ReasonInvalidSignature, 1},
		{"forged/third", forged, authn.ReasonInvalidSignature, 2},
		{"claims failure/first", wrongAud, authn.ReasonAudienceMismatch, 2},
		{"claims failure/not remembered", wrongAud, authn.ReasonAudienceMismatch, 2},
		{"valid", valid, "", 2},
	}
	for _, st := range steps {
		_, err := j.Verify(context.Background(), st.token)
		if st.reason == "" {
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
		} else {
			wantReason(t, err, st.reason)
		}
		if hits, _ := j.ForgedStats(); hits != st.wantHits {
			t.Fatalf("%s: forged hits = %d, want %d", st.name, hits, st.wantHits)
		}
	}

	// The issuer now publishes the forger's key under that kid: after the
	// refresh, the refusing key is gone and the token verifies.
	// (Well within forgedTTL: the entry is still there, and must not be used.)
	srv.SetSigners(forger)
	clock.Advance(time.Second)
	if err := src.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Verify(context.Background(), forged); err != nil {
		t.Fatalf("after the key set changed, the token signed by its key: %v", err)
	}
}
