package jose

import (
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// Every first-seen token's header and claims are decoded, and
// encoding/json's reflective decoder was a third of a first-seen RS256
// token's verification (authn BenchmarkJWT/RS256/uncached profile: 0.56 s
// of 1.67 s, against 0.97 s for the RSA operation). The decoder below reads
// only JSON that json.Valid accepted, into exactly what encoding/json
// produces for it — map[string]any, []any, json.Number (UseNumber), string,
// bool, nil — in one pass with no reflection. A string that has an escape or
// is not valid UTF-8 is handed to encoding/json itself, so its replacement
// and unescaping rules hold unchanged; FuzzDecodeValue compares the two on
// every valid document.

// errDecode reports text the decoder cannot read; it never happens for
// text json.Valid accepted.
var errDecode = errors.New("jose: undecodable JSON")

// decoder reads one JSON value that json.Valid accepted.
type decoder struct {
	b []byte
	i int
}

func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// value decodes the value at d.i.
func (d *decoder) value() (any, error) {
	d.ws()
	if d.i >= len(d.b) {
		return nil, errDecode
	}
	switch c := d.b[d.i]; {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '"':
		return d.str()
	case c == 't':
		d.i += len("true")
		return true, nil
	case c == 'f':
		d.i += len("false")
		return false, nil
	case c == 'n':
		d.i += len("null")
		return nil, nil
	default:
		return d.number(), nil
	}
}

func (d *decoder) object() (map[string]any, error) {
	m := make(map[string]any, 8)
	err := d.members(func(k string) error {
		v, err := d.value()
		m[k] = v
		return err
	})
	return m, err
}

// members reads the object at d.i, calling member for each member name
// with the decoder at the start of its value, which member must consume.
func (d *decoder) members(member func(name string) error) error {
	d.i++ // {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return nil
	}
	for {
		d.ws()
		k, err := d.str()
		if err != nil {
			return err
		}
		d.ws()
		d.i++ // :
		d.ws()
		if err := member(k); err != nil {
			return err
		}
		if done, err := d.next('}'); done || err != nil {
			return err
		}
	}
}

func (d *decoder) array() ([]any, error) {
	d.i++ // [
	a := []any{}
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return a, nil
	}
	for {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		if done, err := d.next(']'); done || err != nil {
			return a, err
		}
	}
}

// next consumes the ',' between members or elements, or the closing
// bracket (done).
func (d *decoder) next(end byte) (bool, error) {
	d.ws()
	if d.i >= len(d.b) {
		return false, errDecode
	}
	c := d.b[d.i]
	d.i++
	switch c {
	case ',':
		return false, nil
	case end:
		return true, nil
	}
	return false, errDecode
}

// rawString returns the bytes between the quotes of the string at d.i and
// whether it has an escape.
func (d *decoder) rawString() ([]byte, bool, error) {
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return nil, false, errDecode
	}
	start, escaped := d.i+1, false
	for j := start; j < len(d.b); j++ {
		switch d.b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			d.i = j + 1
			return d.b[start:j], escaped, nil
		}
	}
	return nil, false, errDecode
}

func (d *decoder) str() (string, error) {
	start := d.i
	raw, escaped, err := d.rawString()
	if err != nil {
		return "", err
	}
	if escaped || !utf8.Valid(raw) {
		var s string
		if err := json.Unmarshal(d.b[start:d.i], &s); err != nil {
			return "", errDecode
		}
		return s, nil
	}
	return knownString(raw), nil
}

// knownString is string(b), without an allocation for the member names
// and values every token repeats.
func knownString(b []byte) string {
	switch string(b) {
	case "alg":
		return "alg"
	case "kid":
		return "kid"
	case "typ":
		return "typ"
	case "iss":
		return "iss"
	case "sub":
		return "sub"
	case "aud":
		return "aud"
	case "exp":
		return "exp"
	case "nbf":
		return "nbf"
	case "iat":
		return "iat"
	case "jti":
		return "jti"
	case "scope":
		return "scope"
	case "scp":
		return "scp"
	case "client_id":
		return "client_id"
	case "azp":
		return "azp"
	case "cnf":
		return "cnf"
	case "RS256":
		return "RS256"
	case "ES256":
		return "ES256"
	case "EdDSA":
		return "EdDSA"
	case "JWT":
		return "JWT"
	case "at+jwt":
		return "at+jwt"
	}
	return string(b)
}

// number returns the literal at d.i as encoding/json's UseNumber does.
func (d *decoder) number() json.Number {
	start := d.i
	for d.i < len(d.b) && numberByte(d.b[d.i]) {
		d.i++
	}
	return json.Number(d.b[start:d.i])
}

func numberByte(c byte) bool {
	return '0' <= c && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// decodeValue decodes b, which json.Valid accepted, as encoding/json with
// UseNumber decodes it into an any.
func decodeValue(b []byte) (any, error) {
	d := decoder{b: b}
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	d.ws()
	if d.i != len(d.b) {
		return nil, errDecode
	}
	return v, nil
}

// decodeMembers returns the members of the JSON object b (json.Valid
// accepted it) with their values as raw JSON, as encoding/json decodes b
// into a map[string]json.RawMessage: a later duplicate wins. ok is false
// when b is not an object.
func decodeMembers(b []byte) (members map[string]json.RawMessage, ok bool) {
	d := decoder{b: b}
	d.ws()
	if d.i >= len(b) || b[d.i] != '{' {
		return nil, false
	}
	m := make(map[string]json.RawMessage, 4)
	err := d.members(func(k string) error {
		start := d.i
		if _, err := d.value(); err != nil {
			return err
		}
		m[k] = json.RawMessage(b[start:d.i])
		return nil
	})
	return m, err == nil
}

// memberString reads a header member that must be a string: absent, a
// JSON string, or null (which encoding/json leaves as ""), as
// json.Unmarshal into a *string accepts.
func memberString(m map[string]json.RawMessage, name string, dst *string) bool {
	v, ok := m[name]
	if !ok || string(v) == "null" {
		return true
	}
	if len(v) == 0 || v[0] != '"' {
		return false
	}
	d := decoder{b: v}
	s, err := d.str()
	if err != nil || d.i != len(v) {
		return false
	}
	*dst = s
	return true
}
