package jose

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
	// CheckJSON accepted raw, so it is one valid JSON value: decodeValue
	// reads it as encoding/json's Decoder with UseNumber would.
	v, err := decodeValue(raw)
	if err != nil {
		return nil, errClaims
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errClaims
	}
	return m, nil
}
