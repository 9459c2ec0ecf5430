#!/bin/sh
# Starts the demo upstream, Gatehouse (forward-auth on 127.0.0.1:9192) and
# NGINX with auth_request on https://localhost:8081, and prints curls.
# Usage (from the repository root): sh examples/nginx/run.sh
set -e
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "nginx is not installed (apt-get install -y nginx; make test-deps does)"; exit 1; }
make -s pki >/dev/null
RUN=$(mktemp -d)
sed -e "s|@ROOT@|$ROOT|g" -e "s|@RUN@|$RUN|g" examples/nginx/nginx.conf > "$RUN/nginx.conf"
sh examples/proxy-curls.sh "NGINX (auth_request)" https://localhost:8081 .dev/pki examples/nginx/gatehouse.yaml mtls
bin/upstream -addr 127.0.0.1:9000 & up=$!
bin/gatehouse run -c examples/nginx/gatehouse.yaml & gh=$!
trap 'kill $up $gh 2>/dev/null; rm -rf "$RUN"' EXIT INT TERM
"$NGINX" -p "$RUN" -c "$RUN/nginx.conf" -e "$RUN/error.log"
