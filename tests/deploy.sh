#!/usr/bin/env bash
# The deployment in deploy/ under test: two nodes on PostgreSQL + Redis behind Debian's nginx
# (installed with apt-get when missing and running as root), through deploy/nginx/mutual.conf
# itself (tests/server/deploy.rs). Also checks that the TLS snippet and the site file pass `nginx -t`
# with a throwaway certificate. Called by scripts/test (which has PostgreSQL and Redis up, and
# exports MUTUAL_TEST_BACKENDS and the test URLs); prints one summary line.
set -uo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
NGINX=${NGINX:-/usr/sbin/nginx}
summary() { printf 'deploy: %s passed, %s failed (%ss)\n' "$1" "$2" "$((SECONDS - start))"; }

if [ ! -x "$NGINX" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "==> deploy: installing nginx (Debian's package)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; }
  # The package starts a system nginx on port 80; these tests run their own.
  service nginx stop >/dev/null 2>&1 || true
fi
if [ ! -x "$NGINX" ]; then
  echo "!!! deploy: no nginx at $NGINX"
  summary 0 1
  exit 1
fi

passed=0 failed=0
# 1. The site as shipped, TLS snippet included, passes `nginx -t` (a throwaway certificate in
#    place of the placeholders, snippets from deploy/nginx).
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
if openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=support.example.org \
     -keyout "$dir/key.pem" -out "$dir/cert.pem" >/dev/null 2>&1; then
  sed -e "s#/etc/letsencrypt/live/support.example.org/fullchain.pem#$dir/cert.pem#" \
      -e "s#/etc/letsencrypt/live/support.example.org/privkey.pem#$dir/key.pem#" \
      deploy/nginx/mutual-tls.conf > "$dir/mutual-tls.conf"
  sed -e "s#snippets/mutual-tls.conf#$dir/mutual-tls.conf#" \
      -e "s#snippets/mutual-proxy.conf#$PWD/deploy/nginx/mutual-proxy.conf#" \
      deploy/nginx/mutual.conf > "$dir/site.conf"
  printf 'pid %s/nginx.pid;\nerror_log %s/error.log;\nevents {}\nhttp {\n include %s/site.conf;\n}\n' \
    "$dir" "$dir" "$dir" > "$dir/nginx.conf"
  if "$NGINX" -t -q -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"; then
    passed=$((passed + 1))
  else
    echo "!!! deploy: deploy/nginx/mutual.conf with its TLS snippet fails nginx -t"
    failed=$((failed + 1))
  fi
else
  echo "!!! deploy: openssl could not make a test certificate"
  failed=$((failed + 1))
fi

# 2. Two nodes behind nginx, for real.
if NGINX=$NGINX cargo nextest run --workspace --test server -E 'test(/^deploy::/)' --run-ignored only --no-fail-fast; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
fi
summary "$passed" "$failed"
[ "$failed" = 0 ]
