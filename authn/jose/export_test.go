package jose

// CheckJSONEscapes exposes checkEscapes to the reference implementation in
// strictjson_test.go.
func CheckJSONEscapes(b []byte) bool { return checkEscapes(b) == nil }
