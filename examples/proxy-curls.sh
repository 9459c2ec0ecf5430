#!/bin/sh
# Prints ready-to-paste curl commands against a proxy that asks Gatehouse
# (examples/nginx, examples/caddy). Usage: proxy-curls.sh NAME BASE PKI CONFIG
name=$1 base=$2 d=$3 cfg=$4
C="curl -s --cacert $d/ca.pem"
B=$base/petstore/v1
cat <<EOT

$name in front of the demo upstream (http://127.0.0.1:9000), asking Gatehouse
(config $cfg) before every request. The upstream echoes what reached it and
verifies the X-JWT-Assertion with the gateway's JWKS. Paste these in another terminal:

# 200 — public operation
$C $B/health

# 401 — no credentials: Gatehouse's challenge, returned by $name
$C -i $B/pets

# 200 — JWT with read:pets; the upstream gets the verified assertion, not the token
$C -H "Authorization: Bearer \$(cat $d/tokens/read.jwt)" $B/pets

# 403 insufficient_scope — POST needs write:pets
$C -i -X POST -H "Authorization: Bearer \$(cat $d/tokens/read.jwt)" $B/pets

# 401 — expired token; 401 — a forged assertion is no credential
$C -i -H "Authorization: Bearer \$(cat $d/tokens/expired.jwt)" $B/pets
$C -i -H "X-JWT-Assertion: forged" $B/pets

# 200 — Basic credentials on GET /pets/{id}
$C -u alice:wonderland $B/pets/1

# 200 — an API key (issued offline with the configured key); 401 without
$C -H "X-API-Key: \$(bin/gatehouse apikey issue -c $cfg --api petstore --application demo-app --validity 1h)" $B/inventory
$C -i $B/inventory

# 404 / 405 — unknown path, wrong method: no authentication runs
$C -i $B/nope
$C -i -X PUT $B/pets
EOT
if [ "$5" = mtls ]; then cat <<EOT

# Mutual TLS (partners API): the client certificate alone (200), none (401)
$C --cert $d/client.pem --key $d/client-key.pem $base/partners/v1/orders
$C -i $base/partners/v1/orders
EOT
fi
echo
