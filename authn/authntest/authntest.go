// Package authntest holds real helpers for tests and for the `gatehouse pki`
// development command: a PKI (root and intermediate CAs, server and client
// certificates), JWT signers and hostile-token builders, an htpasswd writer,
// and a loopback JWKS/OpenID issuer server that can rotate keys and inject
// faults.
//
// Everything that a command may need (PKI, signers, tokens) returns errors
// and does not depend on package testing; Must turns a (value, error) pair
// into a value for tests. Only the issuer server, which is test-only, takes a
// TB (any testing.TB) to register its cleanup. Keys are generated at run
// time: nothing here, and no test, commits a private key.
package authntest

import (
	"fmt"
	"sort"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// TB is the part of testing.TB the helpers use; *testing.T satisfies it.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Must returns v, and panics if err is not nil. For test setup that cannot
// fail in practice: authntest.Must(ca.Server()).
func Must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("authntest: %v", err))
	}
	return v
}

// Htpasswd returns an htpasswd file for users (name → password) with bcrypt
// hashes of the given cost (bcrypt.MinCost when cost <= 0, fast for tests),
// written with the `$2y$` prefix as `htpasswd -B` does. Lines are sorted.
func Htpasswd(users map[string]string, cost int) ([]byte, error) {
	if cost <= 0 {
		cost = bcrypt.MinCost
	}
	names := make([]string, 0, len(users))
	for n := range users {
		names = append(names, n)
	}
	sort.Strings(names)
	var sb strings.Builder
	for _, n := range names {
		h, err := bcrypt.GenerateFromPassword([]byte(users[n]), cost)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&sb, "%s:$2y$%s\n", n, strings.TrimPrefix(string(h), "$2a$"))
	}
	return []byte(sb.String()), nil
}
