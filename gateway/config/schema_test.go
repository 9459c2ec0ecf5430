package config_test

import (
	"encoding/json"
	"testing"

	"github.com/gatehouse/gatehouse/gateway/config"
	"github.com/gatehouse/gatehouse/schemas"
)

// Every pattern in config.schema.json has words for its error message.
func TestEveryConfigPatternHasWords(t *testing.T) {
	raw, err := schemas.FS.ReadFile("config.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch n := v.(type) {
		case map[string]any:
			if p, ok := n["pattern"].(string); ok {
				if _, ok := config.PatternWords[p]; !ok {
					t.Errorf("pattern %q has no words in gateway/config/schema.go", p)
				}
			}
			for _, c := range n {
				walk(c)
			}
		case []any:
			for _, c := range n {
				walk(c)
			}
		}
	}
	walk(doc)
}
