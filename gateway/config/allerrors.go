package config

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
)

// withSemanticErrors adds the semantic checks' findings to a config's
// schema errors, so one run of `gatehouse check` lists every mistake rather
// than the schema's first and the rest one fix at a time.
//
// The values the schema faulted are removed and the rest decoded; when even
// that does not decode, the semantic checks would judge a half-read config,
// so only the schema errors are returned.
// A semantic error at or below a key the schema already faulted repeats
// that problem and is dropped.
func withSemanticErrors(path string, js []byte, schemaErr error) error {
	var schemaErrs Errors
	if !errors.As(schemaErr, &schemaErrs) {
		return schemaErr
	}
	// Drop every value the schema faulted, then decode what is left.
	var doc any
	if err := json.Unmarshal(js, &doc); err != nil {
		return schemaErr
	}
	for _, e := range schemaErrs {
		doc = dropPointer(doc, e.Pointer)
	}
	rest, err := json.Marshal(doc)
	if err != nil {
		return schemaErr
	}
	var c Config
	if err := json.Unmarshal(rest, &c); err != nil {
		return schemaErr
	}
	if abs, err := filepath.Abs(path); err == nil {
		c.Path, c.Dir = abs, filepath.Dir(abs)
	}
	c.applyDefaults()
	out := schemaErrs
	seen := map[string]bool{}
	for _, e := range schemaErrs {
		seen[e.Pointer+"\x00"+e.Msg] = true
	}
	for _, e := range c.check() {
		if seen[e.Pointer+"\x00"+e.Msg] || underFaulted(e.Pointer, schemaErrs) {
			continue
		}
		seen[e.Pointer+"\x00"+e.Msg] = true
		e.File = path
		out = append(out, e)
	}
	return out
}

// underFaulted: ptr is a key the schema already reported, or inside one,
// or contains one (a missing required key makes its parent's checks moot).
func underFaulted(ptr string, faults Errors) bool {
	for _, f := range faults {
		if ptr == f.Pointer || strings.HasPrefix(ptr, f.Pointer+"/") || strings.HasPrefix(f.Pointer, ptr+"/") {
			return true
		}
	}
	return false
}

// dropPointer removes the value at a JSON pointer from a decoded document
// (an array element becomes null, keeping its siblings' indexes).
func dropPointer(doc any, ptr string) any {
	if ptr == "" || ptr == "/" {
		return doc
	}
	parts := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	cur := doc
	for i, raw := range parts {
		key := strings.ReplaceAll(strings.ReplaceAll(raw, "~1", "/"), "~0", "~")
		last := i == len(parts)-1
		switch node := cur.(type) {
		case map[string]any:
			if last {
				delete(node, key)
				return doc
			}
			cur = node[key]
		case []any:
			n, err := strconv.Atoi(key)
			if err != nil || n < 0 || n >= len(node) {
				return doc
			}
			if last {
				node[n] = nil
				return doc
			}
			cur = node[n]
		default:
			return doc
		}
	}
	return doc
}
