package decisionlog

import (
	"context"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/plugins/logs"

	"github.com/gatehouse/gatehouse/bundles"
	"github.com/gatehouse/gatehouse/internal/config"
)

// The request body a policy read (input.request.body, on operations with
// x-gatehouse-policy-body) is masked in every record: an order or a refund
// carries personal data, and the body parser only removes members that
// look like credentials. A bundle keeps chosen fields with
// data.system.log.unmask, a set of JSON pointers under
// /input/request/body ("/input/request/body/amount"); everything else of
// the body is erased and listed in the record's erased pointers.

const bodyPointer = "/input/request/body"

// maskBody erases the body from ev.Input except what eng's unmask policy
// keeps. It runs before the mask and drop policies, which still see the
// whole event document they are evaluated on, never a sink.
func maskBody(ctx context.Context, eng *bundles.Engine, ev *logs.EventV1) error {
	in, _ := (*ev.Input).(map[string]any)
	req, _ := in["request"].(map[string]any)
	body, ok := req["body"]
	if !ok {
		return nil
	}
	doc, err := eventDocument(ev)
	if err != nil {
		delete(req, "body")
		ev.Erased = append(ev.Erased, bodyPointer)
		return err
	}
	keep, err := eng.LogUnmask(ctx, doc)
	if err != nil {
		delete(req, "body")
		ev.Erased = append(ev.Erased, bodyPointer)
		return err
	}
	kept, erased := unmaskedBody(body, keep)
	if kept == nil {
		delete(req, "body")
	} else {
		req["body"] = kept
	}
	ev.Erased = append(ev.Erased, erased...)
	return nil
}

// unmaskedBody copies the members keep points at (object members at any
// depth, or the whole body) into a new value and names what was left out:
// the body's own pointer when nothing is kept, else each top-level member
// not kept whole.
func unmaskedBody(body any, keep []string) (any, []string) {
	var kept any
	for _, p := range keep {
		rest, ok := strings.CutPrefix(p, bodyPointer)
		if !ok || (rest != "" && rest[0] != '/') {
			continue
		}
		if rest == "" {
			return body, nil
		}
		if v, ok := lookup(body, pointerParts(rest)); ok {
			if kept == nil {
				kept = map[string]any{}
			}
			upsertPointer(&kept, rest, v)
		}
	}
	if kept == nil {
		return nil, []string{bodyPointer}
	}
	var erased []string
	orig, _ := body.(map[string]any)
	km := kept.(map[string]any)
	for name, v := range orig {
		if kv, ok := km[name]; !ok || !sameShape(kv, v) {
			erased = append(erased, bodyPointer+"/"+config.EscapePointer(name))
		}
	}
	sort.Strings(erased)
	return kept, erased
}

// sameShape: a kept member is the original one only when it was kept
// whole (a partly kept object counts as erased in part).
func sameShape(kept, orig any) bool {
	km, ok1 := kept.(map[string]any)
	om, ok2 := orig.(map[string]any)
	if !ok1 || !ok2 {
		return true
	}
	if len(km) != len(om) {
		return false
	}
	for k, v := range om {
		if !sameShape(km[k], v) {
			return false
		}
	}
	return true
}

func lookup(v any, parts []string) (any, bool) {
	for _, p := range parts {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[p]; !ok {
			return nil, false
		}
	}
	return v, true
}
