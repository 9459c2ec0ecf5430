package main

import (
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// serveUpstream is a tiny HTTP/1.1 server answering 200 with a small body.
func serveUpstream(addr string) error {
	body := []byte(upstreamBody)
	srv := &http.Server{
		Addr: addr,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	return srv.ListenAndServe()
}

// bytePool is the copy-buffer pool of the bare proxy, as the gateway has.
type bytePool struct{ p sync.Pool }

func (b *bytePool) Get() []byte  { return *(b.p.Get().(*[]byte)) }
func (b *bytePool) Put(v []byte) { b.p.Put(&v) }

// serveBareProxy is the ceiling: httputil.ReverseProxy with a tuned
// transport and a buffer pool, terminating TLS with the gateway's
// certificate and TLS settings, doing nothing else.
func serveBareProxy(addr, upstream, certFile, keyFile string) error {
	target, err := url.Parse(upstream)
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return err
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   256, // ≥ connections; the gateway's default
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     true,
	}
	pool := &bytePool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
	rp := &httputil.ReverseProxy{
		Transport:  tr,
		BufferPool: pool,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = ""
			pr.SetXForwarded()
		},
	}
	srv := &http.Server{
		Addr:              addr,
		Handler:           rp,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		TLSConfig: &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil },
			ClientAuth:     tls.RequestClientCert,
		},
	}
	return srv.ListenAndServeTLS("", "")
}

// openAPI is the benchmark API: a JWT route, a public route, and enough
// other templated operations that routing is not trivially short.
func openAPI() []byte {
	type op struct{ method, path, id, sec string }
	ops := []op{
		{"get", "/health", "health", "public"},
		{"get", "/items", "listItems", ""},
		{"post", "/items", "createItem", "write"},
		{"get", "/items/{id}", "getItem", ""},
		{"put", "/items/{id}", "updateItem", "write"},
		{"delete", "/items/{id}", "deleteItem", "write"},
		{"get", "/items/{id}/reviews", "listReviews", ""},
		{"get", "/items/{id}/reviews/{rid}", "getReview", ""},
		{"get", "/users/{uid}", "getUser", ""},
		{"get", "/users/{uid}/orders", "listOrders", ""},
		{"get", "/users/{uid}/orders/{oid}", "getOrder", ""},
		{"get", "/search", "search", ""},
	}
	paths := map[string]map[string]any{}
	for _, o := range ops {
		item := paths[o.path]
		if item == nil {
			item = map[string]any{}
			var params []any
			for _, seg := range strings.Split(o.path, "/") {
				if strings.HasPrefix(seg, "{") {
					params = append(params, map[string]any{"name": strings.Trim(seg, "{}"), "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
				}
			}
			if params != nil {
				item["parameters"] = params
			}
			paths[o.path] = item
		}
		m := map[string]any{"operationId": o.id, "responses": map[string]any{"200": map[string]any{"description": "ok"}}}
		switch o.sec {
		case "public":
			m["security"] = []any{}
		case "write":
			m["security"] = []any{map[string]any{"benchJWT": []any{"write:items"}}}
		}
		item[o.method] = m
	}
	doc, _ := json.Marshal(map[string]any{
		"openapi":               "3.1.0",
		"info":                  map[string]any{"title": "Bench", "version": "1.0.0"},
		"x-gatehouse-base-path": basePath,
		"security":              []any{map[string]any{"benchJWT": []any{"read:items"}}},
		"paths":                 paths,
		"components": map[string]any{"securitySchemes": map[string]any{
			"benchJWT": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
		}},
	})
	return doc
}
