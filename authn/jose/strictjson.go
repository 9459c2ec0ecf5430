package jose

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Two JSON parsers that read one document differently are how a token says
// one thing to the gateway and another to whoever reads it next: with
// {"alg":"RS256","alg":"none"} or two "sub" members, encoding/json keeps the
// last, other libraries the first or refuse (RFC 7515 §4, RFC 8725 §3.x).
// encoding/json also replaces invalid UTF-8 and lone UTF-16 surrogates
// (\ud800) with U+FFFD, so two different byte strings compare equal after
// decoding. CheckJSON refuses both, in every JSON document the gateway
// takes from outside to make a security decision: JOSE headers and claims
// (access tokens, API keys, the internal key manager's JWTs), introspection
// answers, key sets and discovery documents.

// Errors of CheckJSON, wrapped with where the problem is.
var (
	ErrDuplicateMember = errors.New("duplicate JSON member name")
	ErrInvalidUTF8     = errors.New("JSON text is not valid UTF-8")
	ErrInvalidJSON     = errors.New("not one valid JSON value")
)

// maxJSONDepth bounds nesting (encoding/json's own bound is 10000).
const maxJSONDepth = 64

// CheckJSON reports whether b is exactly one JSON value whose objects, at
// any depth, have distinct member names (compared after unescaping, so
// "a" and "\u0061" are one name), whose text is valid UTF-8 and whose
// \u escapes encode no lone surrogate. It streams encoding/json's Decoder
// tokens and keeps one set of names per open object.
func CheckJSON(b []byte) error {
	if !utf8.Valid(b) {
		return ErrInvalidUTF8
	}
	if err := checkEscapes(b); err != nil {
		return err
	}
	type level struct {
		names     map[string]struct{} // nil for an array
		expectKey bool
	}
	var stack []level
	// valueDone notes that the current level's value ended: in an object
	// the next string is a name again.
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].names != nil {
			stack[n-1].expectKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	started := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if !started || len(stack) > 0 {
				return ErrInvalidJSON
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidJSON, err)
		}
		if started && len(stack) == 0 {
			return fmt.Errorf("%w: data after the value", ErrInvalidJSON)
		}
		started = true
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if len(stack) == maxJSONDepth {
					return fmt.Errorf("%w: nested deeper than %d", ErrInvalidJSON, maxJSONDepth)
				}
				if n := len(stack); n > 0 && stack[n-1].names != nil {
					stack[n-1].expectKey = false
				}
				l := level{}
				if v == '{' {
					l = level{names: map[string]struct{}{}, expectKey: true}
				}
				stack = append(stack, l)
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
		case string:
			top := len(stack) - 1
			if top >= 0 && stack[top].names != nil && stack[top].expectKey {
				if _, dup := stack[top].names[v]; dup {
					return fmt.Errorf("%w at depth %d", ErrDuplicateMember, len(stack))
				}
				stack[top].names[v] = struct{}{}
				stack[top].expectKey = false
				continue
			}
			valueDone()
		default:
			valueDone()
		}
	}
}

// checkEscapes refuses \u escapes of lone UTF-16 surrogates. It runs before
// the JSON is otherwise validated, so it only has to find backslashes: they
// occur in valid JSON only inside strings.
func checkEscapes(b []byte) error {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if i+1 >= len(b) {
			return ErrInvalidJSON
		}
		if b[i+1] != 'u' {
			i++ // \" \\ \/ \b \f \n \r \t: the escaped byte is not a backslash
			continue
		}
		r, ok := hex4(b, i+2)
		if !ok {
			return ErrInvalidJSON
		}
		i += 5
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return fmt.Errorf("%w: lone low surrogate escape", ErrInvalidUTF8)
		case r >= 0xD800 && r <= 0xDBFF:
			if i+6 >= len(b) || b[i+1] != '\\' || b[i+2] != 'u' {
				return fmt.Errorf("%w: lone high surrogate escape", ErrInvalidUTF8)
			}
			lo, ok := hex4(b, i+3)
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return fmt.Errorf("%w: lone high surrogate escape", ErrInvalidUTF8)
			}
			i += 6
		}
	}
	return nil
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
