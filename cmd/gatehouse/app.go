package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gatehouse/gatehouse/authn/keymanager"
	"github.com/gatehouse/gatehouse/bundles"
)

// appCmd manages the internal key manager's clients in their one source of
// truth, the bundle data file
// (data.gatehouse.applications[<source>][<id>].oauth2, source being the
// internal key manager's name, default gatehouse: applications are keyed by
// the identity source that issues their credentials, docs/migrating-bundle-data.md):
//
//	gatehouse app create        --data bundle/data.json [--source gatehouse] --id shop-web --scopes orders:read,orders:write [--client-id …] [--introspect]
//	gatehouse app secret rotate --data bundle/data.json [--source gatehouse] --id shop-web [--keep-old]
//
// The new client secret is printed once and never stored: the file gets its
// bcrypt hash. The gateway picks the change up like any bundle change.
func appCmd(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) > 0 && args[0] == "create":
		return appCreate(args[1:], stdout, stderr)
	case len(args) > 1 && args[0] == "secret" && args[1] == "rotate":
		return appRotate(args[2:], stdout, stderr)
	}
	w, code := stderr, 2
	if len(args) > 0 && (isHelp(args[0]) || args[0] == "secret" && len(args) > 1 && isHelp(args[1])) {
		w, code = stdout, 0
	}
	fmt.Fprint(w, `usage:
  gatehouse app create        --data bundle/data.json [--source <key manager>] --id <application> [--client-id <id>] [--scopes a,b] [--introspect] [--name <text>]
  gatehouse app secret rotate --data bundle/data.json [--source <key manager>] --id <application> [--keep-old]
`)
	return code
}

func appCreate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("app create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "bundle data file (JSON) to edit")
	source := sourceFlag(fs)
	id := fs.String("id", "", "application id (the key in gatehouse.applications[<source>]; subscriptions[<source>] use it)")
	clientID := fs.String("client-id", "", "client_id (default: the application id)")
	scopes := fs.String("scopes", "", "scopes the client may request, comma-separated")
	introspect := fs.Bool("introspect", false, "the client may call the introspection endpoint (a resource server)")
	name := fs.String("name", "", "display name")
	cost := fs.Int("cost", 0, "bcrypt cost (default 10)")
	if code, stop := parseFlags(fs, args, stdout, stderr); stop {
		return code
	}
	if *data == "" || *id == "" {
		fmt.Fprintln(stderr, "gatehouse app create: --data and --id are required")
		return 2
	}
	secret, err := keymanager.NewSecret()
	if err == nil {
		err = editApps(*data, *source, func(apps map[string]any) error {
			app, _ := apps[*id].(map[string]any)
			if app["oauth2"] != nil {
				return fmt.Errorf("application %q is already a client (rotate its secret instead)", *id)
			}
			if app == nil {
				app = map[string]any{}
			}
			hash, err := keymanager.HashSecret(secret, *cost)
			if err != nil {
				return err
			}
			o := map[string]any{"client_secrets": []any{hash}}
			if *clientID != "" {
				o["client_id"] = *clientID
			}
			if list := splitList(*scopes); len(list) > 0 {
				o["scopes"] = list
			}
			if *introspect {
				o["introspect"] = true
			}
			if *name != "" {
				app["name"] = *name
			}
			app["oauth2"] = o
			apps[*id] = app
			return nil
		})
	}
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse app create: %v\n", err)
		return 1
	}
	cid := *clientID
	if cid == "" {
		cid = *id
	}
	fmt.Fprintf(stdout, "client_id:     %s\nclient_secret: %s\n(shown once; %s holds only its hash)\n", cid, secret, *data)
	return 0
}

func appRotate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("app secret rotate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "bundle data file (JSON) to edit")
	source := sourceFlag(fs)
	id := fs.String("id", "", "application id")
	keepOld := fs.Bool("keep-old", false, "keep accepting the current secret(s) until the next rotation (an overlap for clients to switch)")
	cost := fs.Int("cost", 0, "bcrypt cost (default 10)")
	if code, stop := parseFlags(fs, args, stdout, stderr); stop {
		return code
	}
	if *data == "" || *id == "" {
		fmt.Fprintln(stderr, "gatehouse app secret rotate: --data and --id are required")
		return 2
	}
	secret, err := keymanager.NewSecret()
	var cid string
	if err == nil {
		err = editApps(*data, *source, func(apps map[string]any) error {
			app, _ := apps[*id].(map[string]any)
			o, _ := app["oauth2"].(map[string]any)
			if o == nil {
				return fmt.Errorf("application %q is not a client (create it first)", *id)
			}
			hash, err := keymanager.HashSecret(secret, *cost)
			if err != nil {
				return err
			}
			secrets := []any{hash}
			if *keepOld {
				old, _ := o["client_secrets"].([]any)
				secrets = append(secrets, old...)
				if len(secrets) > 2 {
					secrets = secrets[:2] // the new one and the newest old one
				}
			}
			o["client_secrets"] = secrets
			cid, _ = o["client_id"].(string)
			return nil
		})
	}
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse app secret rotate: %v\n", err)
		return 1
	}
	if cid == "" {
		cid = *id
	}
	fmt.Fprintf(stdout, "client_id:     %s\nclient_secret: %s\n(shown once; %s holds only its hash)\n", cid, secret, *data)
	return 0
}

// sourceFlag is --source: the internal key manager whose clients are edited
// (its configured name, the identity source of its tokens).
func sourceFlag(fs *flag.FlagSet) *string {
	return fs.String("source", keymanager.DefaultName, "the internal key manager's name (internal_key_manager.name): applications are keyed by it")
}

// editApps reads the data file (or starts an empty one), lets edit change
// gatehouse.applications[source], checks the result as the gateway will,
// and replaces the file atomically. A file still in the flat shape of
// earlier releases is refused: editing it would leave data the gateway
// refuses.
func editApps(path, source string, edit func(apps map[string]any) error) error {
	doc := map[string]any{}
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	default:
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			return fmt.Errorf("%s is not a JSON object (only data.json files can be edited): %w", path, err)
		}
	}
	gh, _ := doc["gatehouse"].(map[string]any)
	if gh == nil {
		gh = map[string]any{}
		doc["gatehouse"] = gh
	}
	if err := bundles.CheckKeyedBySource(doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	bySource, _ := gh["applications"].(map[string]any)
	if bySource == nil {
		bySource = map[string]any{}
		gh["applications"] = bySource
	}
	apps, _ := bySource[source].(map[string]any)
	if apps == nil {
		apps = map[string]any{}
		bySource[source] = apps
	}
	if err := edit(apps); err != nil {
		return err
	}
	if _, err := keymanager.ParseApplications(jsonValue(apps)); err != nil {
		return err
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".data-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(out, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// jsonValue round-trips v through JSON, as the gateway sees bundle data.
func jsonValue(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func splitList(s string) []any {
	var out []any
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
