package bundles_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/bundles"
)

// Applications and subscriptions are keyed by identity source, then
// application id (docs/migrating-bundle-data.md). Data of the flat shape of
// earlier releases is refused when the bundle loads, with an error that
// says what to do: never silently ignored (every subscribed client would
// get subscription_required with no hint why) nor silently honoured (an
// application id would again be trusted across issuers).
func TestBundleDataKeyedBySource(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, data, wantErr string
	}{
		{name: "ok/by_source", data: `{"gatehouse": {
			"applications": {"corp": {"pets-client": {"name": "Pets", "oauth2": {"client_secrets": ["$2y$10$abcdefghijklmnopqrstuv"]}}}},
			"subscriptions": {"corp": {"pets-client": [{"api": "petstore", "plan": "gold"}]}, "partner": {"pets-client": []}}}}`},
		{name: "fail/flat_subscriptions", data: `{"gatehouse": {"subscriptions": {"pets-client": [{"api": "petstore"}]}}}`,
			wantErr: `gatehouse.subscriptions["pets-client"] is a list`},
		{name: "fail/flat_subscriptions_after_good", data: `{"gatehouse": {"subscriptions": {"corp": {"a": []}, "zz-app": []}}}`,
			wantErr: `gatehouse.subscriptions["zz-app"] is a list`},
		{name: "fail/flat_application", data: `{"gatehouse": {"applications": {"shop-web": {"name": "Shop"}}}}`,
			wantErr: `gatehouse.applications["shop-web"] has the member "name"`},
		{name: "fail/flat_application_oauth2", data: `{"gatehouse": {"applications": {"shop-web": {"oauth2": {"client_secrets": ["$2y$10$abcdefghijklmnopqrstuv"]}}}}}`,
			wantErr: `gatehouse.applications["shop-web"] has the member "oauth2"`},
		{name: "fail/subscriptions_one_level_too_deep", data: `{"gatehouse": {"subscriptions": {"corp": {"pets-client": {"petstore": {}}}}}}`,
			wantErr: "subscriptions/corp/pets-client"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := writeBundle(t, map[string]string{"data.json": tc.data})
			_, err := bundles.Load(context.Background(), bundles.Options{Base: true, Bundles: []string{dir}})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, bundles.ErrData) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want ErrData with %q", err, tc.wantErr)
			}
			if strings.HasPrefix(tc.name, "fail/flat") && !strings.Contains(err.Error(), "docs/migrating-bundle-data.md") {
				t.Fatalf("err = %v: does not point to the migration", err)
			}
		})
	}
}
