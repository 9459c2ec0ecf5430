package bundles

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/bundle"
)

// hashPrefix marks a revision computed from content rather than declared in
// a .manifest, so nobody mistakes it for a release name.
const hashPrefix = "sha256:"

// ContentHash is a short SHA-256 over what a bundle contributes to a
// decision: each policy module (path and source), its data, and its
// manifest roots and metadata — not its declared revision, not its
// signatures, and not Rego tests (which the gateway never loads). Equal
// hashes mean the same policy and data, whatever the server's ETag says.
func ContentHash(b *bundle.Bundle) string { return contentHash(b, "") }

// contentHash hashes module paths relative to root (a local bundle's
// directory), so a copy of the same bundle elsewhere hashes the same.
func contentHash(b *bundle.Bundle, root string) string {
	h := sha256.New()
	mods := make([]bundle.ModuleFile, len(b.Modules))
	copy(mods, b.Modules)
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })
	for _, m := range mods {
		h.Write([]byte("module\x00" + strings.TrimPrefix(m.Path, root) + "\x00"))
		h.Write(m.Raw)
		h.Write([]byte{0})
	}
	// encoding/json writes map keys sorted, so equal data hashes equally.
	data, _ := json.Marshal(b.Data)
	h.Write([]byte("data\x00"))
	h.Write(data)
	roots, _ := json.Marshal(b.Manifest.Roots)
	meta, _ := json.Marshal(b.Manifest.Metadata)
	h.Write([]byte("\x00roots\x00"))
	h.Write(roots)
	h.Write([]byte("\x00metadata\x00"))
	h.Write(meta)
	for _, w := range b.WasmModules {
		h.Write([]byte("\x00wasm\x00" + w.Path + "\x00"))
		h.Write(w.Raw)
	}
	sum := h.Sum(nil)
	return hashPrefix + hex.EncodeToString(sum[:6])
}

// Revision is the bundle's .manifest revision if it declares one, else its
// ContentHash: every change to an unversioned bundle shows in /readyz,
// audit lines and decision logs. (Computed on each call, with no cache in
// the Source, so Sources stay safe to share between generation builds.)
func (s *Source) Revision() string {
	if r := s.Bundle.Manifest.Revision; r != "" {
		return r
	}
	return contentHash(s.Bundle, s.root)
}
