package decisionlog

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/plugins"
	"github.com/open-policy-agent/opa/v1/plugins/logs"
	"github.com/open-policy-agent/opa/v1/server"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/internal/config"
)

// consoleSink writes records to the process log (logger "decisions").
type consoleSink struct{ log hclog.Logger }

func (c *consoleSink) write(_ context.Context, ev *logs.EventV1) error {
	c.log.Info("decision", "decision_id", ev.DecisionID, "event", ev)
	return nil
}
func (c *consoleSink) flush() error                  { return nil }
func (c *consoleSink) close(_ context.Context) error { return nil }

// fileSink appends records as JSON lines.
type fileSink struct {
	f *os.File
	w *bufio.Writer
}

func newFileSink(path string) (*fileSink, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	return &fileSink{f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

func (s *fileSink) write(_ context.Context, ev *logs.EventV1) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = s.w.Write(b)
	return err
}

func (s *fileSink) flush() error { return s.w.Flush() }

func (s *fileSink) close(_ context.Context) error {
	return errors.Join(s.w.Flush(), s.f.Close())
}

// uploadSink hands records to OPA's decision-log plugin, driven by a
// plugins.Manager of its own (no OPA runtime): the plugin buffers, batches,
// gzips and POSTs JSON arrays to <service>/logs with retries and backoff —
// OPA's decision-log upload protocol, unchanged. Records reach it already
// masked; the manager compiles no policy, so the plugin's own mask and drop
// steps find nothing to apply. OPA's "erased"/"masked" members are not part
// of its upload input, so they travel in custom.erased / custom.masked.
type uploadSink struct {
	mgr    *plugins.Manager
	plugin *logs.Plugin
}

func newUploadSink(dc *Config, o Options, labels map[string]string) (*uploadSink, error) {
	fail := func(err error) error {
		return config.Errors{{File: o.File, Pointer: "/policy/decision_logs", Msg: err.Error()}}
	}
	services := map[string]json.RawMessage{}
	for name, raw := range o.Services {
		resolved, err := bundles.ResolveServiceSecrets(raw, o.Dir)
		if err != nil {
			return nil, fail(fmt.Errorf("service %s: %w", name, err))
		}
		services[name] = resolved
	}
	dl := map[string]any{"service": dc.Service}
	if dc.Resource != "" {
		dl["resource"] = dc.Resource
	}
	if len(dc.Reporting) > 0 {
		dl["reporting"] = dc.Reporting
	}
	opaCfg, err := json.Marshal(map[string]any{"services": services, "decision_logs": dl})
	if err != nil {
		return nil, fail(err)
	}
	opaLog := bundles.NewOPALogger(o.Log.Named("upload"))
	mgr, err := plugins.New(opaCfg, "gatehouse", inmem.New(), plugins.Logger(opaLog), plugins.ConsoleLogger(opaLog))
	if err != nil {
		return nil, fail(err)
	}
	// OPA's config enforces labels {id, version} of its own (the manager's
	// id and OPA's version); the records carry the gateway's.
	mgr.Config.Labels = maps.Clone(labels)
	dlJSON, _ := json.Marshal(dl)
	pc, err := logs.ParseConfig(dlJSON, mgr.Services(), nil)
	if err != nil {
		return nil, fail(err)
	}
	p := logs.New(pc, mgr)
	mgr.Register(logs.Name, p)
	if err := mgr.Start(context.Background()); err != nil {
		return nil, fail(err)
	}
	return &uploadSink{mgr: mgr, plugin: p}, nil
}

func (u *uploadSink) write(ctx context.Context, ev *logs.EventV1) error {
	bundles := make(map[string]server.BundleInfo, len(ev.Bundles))
	for k, v := range ev.Bundles {
		bundles[k] = server.BundleInfo{Revision: v.Revision}
	}
	info := &server.Info{
		DecisionID: ev.DecisionID,
		Bundles:    bundles,
		Path:       ev.Path,
		Input:      ev.Input,
		Results:    ev.Result,
		RemoteAddr: ev.RequestedBy,
		Timestamp:  ev.Timestamp,
		Custom:     ev.Custom,
	}
	if ev.Metrics != nil {
		info.Metrics = recordedMetrics{Metrics: metrics.New(), all: ev.Metrics}
	}
	return u.plugin.Log(ctx, info)
}

// recordedMetrics hands the plugin the record's metrics member: it reads
// them through All.
type recordedMetrics struct {
	metrics.Metrics
	all map[string]any
}

func (m recordedMetrics) All() map[string]any { return m.all }

func (u *uploadSink) flush() error { return nil }

// close stops the plugin, which uploads what it buffered until ctx ends.
func (u *uploadSink) close(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	u.mgr.Stop(ctx)
	return nil
}

// applyLogPolicies runs the bundles' data.system.log.drop and
// data.system.log.mask on the event (OPA's semantics: the event document is
// the input; mask yields JSON pointers to erase or {"op", "path", "value"}
// objects; only /input and /result may be touched).
func applyLogPolicies(ctx context.Context, eng *bundles.Engine, ev *logs.EventV1) (drop bool, err error) {
	doc, err := eventDocument(ev)
	if err != nil {
		return false, err
	}
	if drop, err = eng.LogDrop(ctx, doc); err != nil || drop {
		return drop, err
	}
	rules, err := eng.LogMask(ctx, doc)
	if err != nil || rules == nil {
		return false, err
	}
	v, err := ast.JSON(rules)
	if err != nil {
		return false, err
	}
	list, ok := v.([]any)
	if !ok {
		return false, fmt.Errorf("%s is not a set", bundles.LogMaskQuery)
	}
	for _, x := range list {
		op, path, value, hasValue, err := maskRule(x)
		if err != nil {
			return false, err
		}
		var root *any
		rest, ok := strings.CutPrefix(path, "/input")
		if ok {
			root = ev.Input
		} else if rest, ok = strings.CutPrefix(path, "/result"); ok {
			root = ev.Result
		} else {
			return false, fmt.Errorf("mask path %q: only /input and /result can be masked", path)
		}
		if root == nil || (rest != "" && rest[0] != '/') {
			continue
		}
		switch op {
		case "remove":
			if removePointer(root, rest) {
				ev.Erased = append(ev.Erased, path)
			}
		case "upsert":
			if !hasValue {
				return false, fmt.Errorf("mask upsert of %q has no value", path)
			}
			if upsertPointer(root, rest, value) {
				ev.Masked = append(ev.Masked, path)
			}
		}
	}
	return false, nil
}

func eventDocument(ev *logs.EventV1) (ast.Value, error) {
	doc := map[string]any{
		"decision_id": ev.DecisionID,
		"path":        ev.Path,
		"labels":      ev.Labels,
		"timestamp":   ev.Timestamp.Format(time.RFC3339Nano),
		"custom":      ev.Custom,
	}
	b := map[string]any{}
	for k, v := range ev.Bundles {
		b[k] = map[string]any{"revision": v.Revision}
	}
	doc["bundles"] = b
	if ev.Input != nil {
		doc["input"] = *ev.Input
	}
	if ev.Result != nil {
		doc["result"] = *ev.Result
	}
	return ast.InterfaceToValue(doc)
}

// maskRule reads one element of data.system.log.mask.
func maskRule(x any) (op, path string, value any, hasValue bool, err error) {
	switch r := x.(type) {
	case string:
		return "remove", r, nil, false, nil
	case map[string]any:
		op, _ = r["op"].(string)
		path, _ = r["path"].(string)
		value, hasValue = r["value"]
		if op == "" {
			op = "remove"
		}
		if (op != "remove" && op != "upsert") || path == "" {
			return "", "", nil, false, fmt.Errorf("mask rule %v: want op remove|upsert and a path", r)
		}
		return op, path, value, hasValue, nil
	}
	return "", "", nil, false, fmt.Errorf("mask rule %v: want a JSON pointer or an object", x)
}

func pointerParts(ptr string) []string {
	parts := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
	}
	return parts
}

// removePointer deletes the member at ptr (relative to *root); "" removes
// the whole document.
func removePointer(root *any, ptr string) bool {
	if ptr == "" {
		*root = nil
		return true
	}
	parts := pointerParts(ptr)
	cur := *root
	for _, p := range parts[:len(parts)-1] {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		cur = m[p]
	}
	m, ok := cur.(map[string]any)
	if !ok {
		return false
	}
	if _, ok := m[parts[len(parts)-1]]; !ok {
		return false
	}
	delete(m, parts[len(parts)-1])
	return true
}

// upsertPointer sets the member at ptr, creating objects on the way.
func upsertPointer(root *any, ptr string, value any) bool {
	if ptr == "" {
		*root = value
		return true
	}
	parts := pointerParts(ptr)
	cur, ok := (*root).(map[string]any)
	if !ok {
		return false
	}
	for _, p := range parts[:len(parts)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	cur[parts[len(parts)-1]] = value
	return true
}
