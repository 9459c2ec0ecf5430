package jose

import (
	"bytes"
	"encoding/json"
	"io"
)

// DecodeClaims decodes a JWT payload: one JSON object, numbers kept as
// json.Number (so large integers survive intact), member names exact,
// nothing after the object. Failures are *Error (Malformed).
//
// Duplicate member names at any depth, invalid UTF-8 and lone surrogate
// escapes, which encoding/json accepts, are refused here (CheckJSON), so
// every token the gateway reads gets the rule at once.
func DecodeClaims(seg []byte) (map[string]any, error) {
	raw, err := DecodeSegment(seg)
	if err != nil {
		return nil, errClaims
	}
	if err := CheckJSON(raw); err != nil {
		return nil, strictError("claims", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, errClaims
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errClaims
	}
	return m, nil
}
