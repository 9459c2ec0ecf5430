package main

// gatewayConfig: a plain listener the bench does not use (a gateway needs
// one), the forward-auth endpoint on loopback, one JWT issuer; logs and
// audit lines as shipped.
const gatewayConfig = `listen:
  http_address: %s
  allow_credentials_over_http: true # loopback, unused by the bench
  forward_auth:
    address: %s
    trusted_proxies: [127.0.0.1]
admin: {address: ""}
apis:
  - openapi: bench-api.yaml
    upstream: %s
schemes:
  benchJWT: {type: bearer, issuers: [bench]}
issuers:
  - name: bench
    issuer: %s
    jwks_file: issuer-jwks.json
    audiences: [%s]
log: {level: info, format: json}
`

const openAPI = `openapi: 3.1.0
info: {title: Bench, version: "1"}
x-gatehouse-base-path: /bench/v1
paths:
  /items/{id}:
    parameters: [{name: id, in: path, required: true, schema: {type: string}}]
    get:
      operationId: getItem
      security: [{benchJWT: [read]}]
      responses: {"200": {description: ok}}
components:
  securitySchemes:
    benchJWT: {type: http, scheme: bearer, bearerFormat: JWT}
`

// nginxConfig: one server proxies alone, the other asks Gatehouse first
// (the examples/nginx configuration, minus TLS). Upstream connections are
// kept alive on both.
const nginxConfig = `daemon off;
worker_processes %[6]d;
pid %[1]s/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream gatehouse { server %[4]s; keepalive 64; }
  upstream app { server %[5]s; keepalive 64; }
  server {
    listen %[2]s;
    location / {
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "";
      proxy_pass http://app;
    }
  }
  server {
    listen %[3]s;
    location / {
      auth_request /_gatehouse;
      auth_request_set $gatehouse_assertion $upstream_http_x_jwt_assertion;
      auth_request_set $gatehouse_request_id $upstream_http_x_request_id;
      proxy_set_header X-JWT-Assertion $gatehouse_assertion;
      proxy_set_header X-Request-Id $gatehouse_request_id;
      proxy_set_header Authorization "";
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://app;
    }
    location = /_gatehouse {
      internal;
      proxy_pass http://gatehouse/auth/nginx;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header Host $host;
    }
  }
}
`
