#!/bin/sh
# Starts the demo upstream, Gatehouse (forward-auth on 127.0.0.1:9192) and
# Caddy with forward_auth on https://localhost:8082, and prints curls.
# Usage (from the repository root): sh examples/caddy/run.sh
set -e
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
command -v caddy >/dev/null || { echo "caddy is not installed (apt-get install -y caddy; make test-deps does)"; exit 1; }
make -s pki >/dev/null
RUN=$(mktemp -d)
sed -e "s|@ROOT@|$ROOT|g" examples/caddy/Caddyfile > "$RUN/Caddyfile"
sh examples/proxy-curls.sh "Caddy (forward_auth)" https://localhost:8082 .dev/pki examples/caddy/gatehouse.yaml mtls
bin/upstream -addr 127.0.0.1:9000 & up=$!
bin/gatehouse run -c examples/caddy/gatehouse.yaml & gh=$!
trap 'kill $up $gh 2>/dev/null; rm -rf "$RUN"' EXIT INT TERM
# Caddy keeps its state under HOME/XDG dirs: a scratch one, not yours.
HOME=$RUN XDG_DATA_HOME=$RUN XDG_CONFIG_HOME=$RUN caddy run --config "$RUN/Caddyfile" --adapter caddyfile
