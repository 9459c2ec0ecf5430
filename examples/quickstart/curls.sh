#!/bin/sh
# Prints ready-to-paste curl commands against the quickstart gateway.
# Usage: curls.sh DEV_PKI_DIR
d=${1:-.dev/pki}
B=https://localhost:8443/petstore/v1
C="curl -s --cacert $d/ca.pem"
cat <<EOT

Gatehouse quickstart: gateway https://localhost:8443 (admin http://127.0.0.1:9901),
demo upstream http://127.0.0.1:9000. Paste these in another terminal:

# 200 — public operation (security: [])
$C $B/health

# 401 — no credentials; the challenge names every scheme of the operation
$C -i $B/pets

# 200 — JWT with read:pets (the upstream shows the verified X-JWT-Assertion)
$C -H "Authorization: Bearer \$(cat $d/tokens/read.jwt)" $B/pets

# 403 insufficient_scope — POST needs write:pets
$C -i -X POST -H "Authorization: Bearer \$(cat $d/tokens/read.jwt)" $B/pets

# 200 — the write token has write:pets
$C -X POST -H "Authorization: Bearer \$(cat $d/tokens/write.jwt)" $B/pets

# 401 invalid_token — expired, wrong audience, revoked (jti in bundle data)
$C -i -H "Authorization: Bearer \$(cat $d/tokens/expired.jwt)" $B/pets
$C -i -H "Authorization: Bearer \$(cat $d/tokens/wrongaud.jwt)" $B/pets
$C -i -H "Authorization: Bearer \$(cat $d/tokens/revoked.jwt)" $B/pets

# 200 — GET /pets/{id} accepts a JWT OR Basic credentials
$C -u alice:wonderland $B/pets/1
$C -H "Authorization: Bearer \$(cat $d/tokens/read.jwt)" $B/pets/1

# 401 — wrong password; 401 — a bad JWT never falls through to Basic
$C -i -u alice:wrong $B/pets/1
$C -i -H "Authorization: Bearer \$(cat $d/tokens/expired.jwt)" $B/pets/1

# 404 / 405 — unknown path, wrong method: no authentication runs
$C -i $B/nope
$C -i -X PUT $B/pets

# API keys: alice (group apikey-issuers) asks the token service for a key for this API,
# then calls /inventory with it (200), with none (401); a key is never an access token (401)
K=\$(curl -s -u alice:wonderland -d '{"apis": [{"name": "petstore"}], "application": "demo-app", "validity": "1h"}' http://127.0.0.1:9901/apikeys | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
$C -H "X-API-Key: \$K" $B/inventory
$C -i $B/inventory
$C -i -H "Authorization: Bearer \$K" $B/pets
# the same offline, for CI, signed with the configured key
bin/gatehouse apikey issue -c examples/quickstart/gatehouse.yaml --api petstore:1.0.0 --subject ci --validity 1h

# Mutual TLS (partners API): the client certificate alone (200), none (401), the
# certificate AND a JWT (200), the certificate without the JWT (401)
$C --cert $d/client.pem --key $d/client-key.pem https://localhost:8443/partners/v1/orders
$C -i https://localhost:8443/partners/v1/orders
$C --cert $d/client.pem --key $d/client-key.pem -H "Authorization: Bearer \$(cat $d/tokens/read.jwt)" https://localhost:8443/partners/v1/orders/7
$C -i --cert $d/client.pem --key $d/client-key.pem https://localhost:8443/partners/v1/orders/7

# dry-run one request: operation, authenticator outcomes, policy input, decision
bin/gatehouse explain -c examples/quickstart/gatehouse.yaml --method GET --url /petstore/v1/pets -H "Authorization: Bearer \$(cat $d/tokens/read.jwt)"

# health, readiness, metrics, the gateway's JWKS (for upstreams)
curl -s 127.0.0.1:9901/readyz; curl -s 127.0.0.1:9901/metrics | grep gatehouse_requests_total; curl -s 127.0.0.1:9901/.well-known/jwks.json

EOT
