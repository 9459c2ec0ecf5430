package authn

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestParseAuthorization(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		scheme     string
		cred       string
		wantErr    bool
		wantScheme string // when err: the scheme still reported
	}{
		{name: "ok/bearer", in: "Bearer abc.def.ghi", scheme: "Bearer", cred: "abc.def.ghi"},
		{name: "ok/lowercase", in: "bearer abc", scheme: "bearer", cred: "abc"},
		{name: "ok/several-spaces", in: "Basic    dXNlcjpwYXNz", scheme: "Basic", cred: "dXNlcjpwYXNz"},
		{name: "ok/outer-whitespace", in: " \tBasic abc \t", scheme: "Basic", cred: "abc"},
		{name: "ok/scheme-only", in: "Negotiate", scheme: "Negotiate", cred: ""},
		{name: "ok/auth-params", in: `Digest username="a", realm="b"`, scheme: "Digest", cred: `username="a", realm="b"`},
		{name: "fail/empty", in: "", wantErr: true},
		{name: "fail/spaces-only", in: "   ", wantErr: true},
		{name: "fail/no-scheme", in: " =abc", wantErr: true},
		{name: "fail/tab-separator", in: "Basic\tabc", wantErr: true, wantScheme: "Basic"},
		{name: "fail/nul-in-credentials", in: "Bearer a\x00b", wantErr: true, wantScheme: "Bearer"},
		{name: "fail/newline", in: "Bearer a\nb", wantErr: true, wantScheme: "Bearer"},
		{name: "fail/del", in: "Bearer a\x7fb", wantErr: true, wantScheme: "Bearer"},
		{name: "fail/non-ascii", in: "Bearer aé", wantErr: true, wantScheme: "Bearer"},
		{name: "fail/scheme-followed-by-separator", in: "Bearer:abc", wantErr: true, wantScheme: "Bearer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			scheme, cred, err := ParseAuthorization(tc.in)
			if tc.wantErr {
				if !errors.Is(err, ErrMalformedAuthorization) {
					t.Fatalf("err = %v, want ErrMalformedAuthorization", err)
				}
				if scheme != tc.wantScheme {
					t.Fatalf("scheme = %q, want %q", scheme, tc.wantScheme)
				}
				return
			}
			if err != nil || scheme != tc.scheme || cred != tc.cred {
				t.Fatalf("got (%q, %q, %v), want (%q, %q, nil)", scheme, cred, err, tc.scheme, tc.cred)
			}
		})
	}
}

func TestIsToken68(t *testing.T) {
	for in, want := range map[string]bool{
		"abc":           true,
		"a.b.c":         true,
		"dXNlcjpwYXNz":  true,
		"dXNlcjp3==":    true,
		"a-_~+/.9":      true,
		"":              false,
		"=":             false,
		"ab=c":          false,
		"a b":           false,
		`a"b`:           false,
		"abc,":          false,
		"abc\x00":       false,
		"eyJ.eyJ.sig==": true,
	} {
		if got := IsToken68(in); got != want {
			t.Errorf("IsToken68(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestAuthorizationFor(t *testing.T) {
	tests := []struct {
		name    string
		headers []string
		want    string
		wantErr error
		reason  Reason
	}{
		{name: "ok/one", headers: []string{"Bearer abc"}, want: "abc"},
		{name: "ok/case", headers: []string{"BEARER abc"}, want: "abc"},
		{name: "none", wantErr: ErrNoCredentials},
		{name: "other-scheme", headers: []string{"Basic abc"}, wantErr: ErrNoCredentials},
		{name: "prefix-of-longer-scheme", headers: []string{"Bearerx abc"}, wantErr: ErrNoCredentials},
		{name: "fail/two", headers: []string{"Bearer a", "Bearer b"}, reason: ReasonAmbiguousCredentials},
		{name: "fail/two-mixed", headers: []string{"Basic a", "Bearer b"}, reason: ReasonAmbiguousCredentials},
		{name: "fail/empty-credentials", headers: []string{"Bearer"}, reason: ReasonMalformed},
		{name: "fail/not-token68", headers: []string{"Bearer a b"}, reason: ReasonMalformed},
		{name: "fail/too-long", headers: []string{"Bearer " + strings.Repeat("a", 100)}, reason: ReasonMalformed},
		{name: "fail/control", headers: []string{"Bearer a\x01"}, reason: ReasonMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "/", nil)
			for _, h := range tc.headers {
				r.Header.Add("Authorization", h)
			}
			got, err := authorizationFor(r, "s", "Bearer", 64)
			switch {
			case tc.reason != "":
				rej, ok := AsRejection(err)
				if !ok || rej.Reason != tc.reason {
					t.Fatalf("err = %v, want rejection %s", err, tc.reason)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
			default:
				if err != nil || got != tc.want {
					t.Fatalf("got (%q, %v), want %q", got, err, tc.want)
				}
			}
		})
	}
}

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		"Bearer eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln",
		"Basic dXNlcjpwYXNz",
		"basic   dXNlcjpwYXNz",
		"Digest username=\"a\", realm=\"b\"",
		"Bearer",
		"",
		" ",
		"Bearer a\x00b",
		"Bearer\tabc",
		"\tBasic abc\t",
		"Bearer é",
		"Bearer:abc",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		scheme, cred, err := ParseAuthorization(v)
		for i := 0; i < len(scheme); i++ {
			if !isTchar(scheme[i]) {
				t.Fatalf("scheme %q has a non-token character", scheme)
			}
		}
		trimmed := strings.Trim(v, " \t")
		if strings.IndexFunc(trimmed, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 && err == nil {
			t.Fatalf("accepted a control character: %q", v)
		}
		if err != nil {
			return
		}
		if scheme == "" {
			t.Fatalf("no scheme and no error for %q", v)
		}
		for i := 0; i < len(cred); i++ {
			if c := cred[i]; c < 0x20 || c > 0x7e {
				t.Fatalf("credentials %q carry byte %#x", cred, c)
			}
		}
		// Round trip: the canonical form parses to the same parts.
		canon := scheme
		if cred != "" {
			canon += " " + cred
		}
		s2, c2, err2 := ParseAuthorization(canon)
		if err2 != nil || s2 != scheme || c2 != cred {
			t.Fatalf("round trip of %q: got (%q, %q, %v)", canon, s2, c2, err2)
		}
	})
}
