package edge

import (
	"net/url"
	"strings"
)

// QueryTokenParam is the RFC 6750 §2.3 query parameter of bearer tokens,
// which no bearer scheme of the gateway reads (gateway/pipeline/querytoken.go).
const QueryTokenParam = "access_token"

// HasQueryToken reports whether a raw query names access_token, however it
// is spelled: percent-encoded, in any case, after "&" or ";" (some
// frameworks split on both).
func HasQueryToken(raw string) bool {
	for raw != "" {
		var part string
		i := strings.IndexAny(raw, "&;")
		if i < 0 {
			part, raw = raw, ""
		} else {
			part, raw = raw[:i], raw[i+1:]
		}
		k, _, _ := strings.Cut(part, "=")
		if len(k) < len(QueryTokenParam) {
			continue
		}
		if strings.IndexByte(k, '%') >= 0 || strings.IndexByte(k, '+') >= 0 {
			if d, err := url.QueryUnescape(k); err == nil {
				k = d
			}
		}
		if strings.EqualFold(strings.TrimSpace(k), QueryTokenParam) {
			return true
		}
	}
	return false
}
