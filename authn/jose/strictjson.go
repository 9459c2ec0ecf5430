package jose

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
// "a" and "\u0061" are one name), whose text is valid UTF-8, whose \u
// escapes encode no lone surrogate, and which nests at most maxJSONDepth
// deep. It runs on every first-seen token, so it allocates nothing for a
// typical document: encoding/json's Valid checks the grammar, then one pass
// over the bytes compares each object's member names in place. (Streaming
// encoding/json's Decoder tokens cost ~140 allocations per token, a fifth
// of a first-seen request's.)
func CheckJSON(b []byte) error {
	if !utf8.Valid(b) {
		return ErrInvalidUTF8
	}
	if err := checkEscapes(b); err != nil {
		return err
	}
	if !json.Valid(b) {
		var v any
		return fmt.Errorf("%w: %w", ErrInvalidJSON, json.Unmarshal(b, &v))
	}
	return checkNames(b)
}

// jsonLevel is an open object or array of checkNames.
type jsonLevel struct {
	object    bool
	expectKey bool
	first     int                 // this object's first name in names
	set       map[string]struct{} // its names, once it has more than linearNames
}

// linearNames is how many names of one object are compared pairwise before
// they go into a map (members of tokens are few; key sets and introspection
// answers may have many).
const linearNames = 16

// checkNames walks JSON that json.Valid accepted: strings are the only
// places where brackets, commas and quotes are not structure.
func checkNames(b []byte) error {
	var stackBuf [maxJSONDepth]jsonLevel
	var namesBuf [64][]byte
	stack, names := stackBuf[:0], namesBuf[:0]
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{', '[':
			if len(stack) == maxJSONDepth {
				return fmt.Errorf("%w: nested deeper than %d", ErrInvalidJSON, maxJSONDepth)
			}
			stack = append(stack, jsonLevel{object: b[i] == '{', expectKey: b[i] == '{', first: len(names)})
		case '}', ']':
			names = names[:stack[len(stack)-1].first]
			stack = stack[:len(stack)-1]
		case ',':
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].expectKey = true
			}
		case '"':
			j := i + 1
			for b[j] != '"' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].expectKey {
				top := &stack[n-1]
				top.expectKey = false
				name := b[i+1 : j]
				dup, err := seenName(top, names[top.first:], name)
				if err != nil {
					return err
				}
				if dup {
					return fmt.Errorf("%w at depth %d", ErrDuplicateMember, n)
				}
				names = append(names, name)
			}
			i = j
		}
	}
	return nil
}

// seenName reports whether name (raw, between the quotes) is among the
// object's earlier names, and records it in the object's set once the
// object has many.
func seenName(top *jsonLevel, earlier [][]byte, name []byte) (bool, error) {
	if top.set == nil && len(earlier) < linearNames {
		for _, e := range earlier {
			if bytes.Equal(e, name) {
				return true, nil
			}
			if (bytes.IndexByte(e, '\\') >= 0 || bytes.IndexByte(name, '\\') >= 0) && unescaped(e) == unescaped(name) {
				return true, nil
			}
		}
		return false, nil
	}
	if top.set == nil {
		top.set = make(map[string]struct{}, 2*len(earlier))
		for _, e := range earlier {
			top.set[unescaped(e)] = struct{}{}
		}
	}
	k := unescaped(name)
	if _, dup := top.set[k]; dup {
		return true, nil
	}
	top.set[k] = struct{}{}
	return false, nil
}

// unescaped is a raw JSON string's value (it is valid: json.Valid said so).
func unescaped(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	var s string
	q := make([]byte, 0, len(raw)+2)
	q = append(append(append(q, '"'), raw...), '"')
	_ = json.Unmarshal(q, &s)
	return s
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
