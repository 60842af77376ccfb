#!/usr/bin/env bash
# Password hashing memory (BENCHMARKS.md): the server's resident memory idle, right after N
# concurrent sign-ups, and a few seconds later. Uses the binary in $BIN (default: the release
# build when present, else the debug one); builds nothing.
#
#   bench/hash_memory.sh                 # 100 sign-ups at once
#   N=200 BIN=target/debug bench/hash_memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-100}
if [ -z "${BIN:-}" ]; then
  if [ -x target/release/mutual ]; then BIN=target/release; else BIN=target/debug; fi
fi
dir=$(mktemp -d -t mutual-hash-XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

rss() { awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status"; }

export MUTUAL_DATA_DIR="$dir/data" DATABASE_URL="sqlite://$dir/mutual.db" MUTUAL_RATE_LIMITS=off RUST_LOG=warn
MUTUAL_LISTEN=127.0.0.1:0 "$BIN/mutual" serve > "$dir/out" 2> "$dir/log" &
pid=$!
for _ in $(seq 1 300); do grep -q '^listening on ' "$dir/out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$dir/out")
# One request first, so the idle figure includes the code paths a request warms up.
curl -s -o /dev/null "$url/readyz"
sleep 1
idle=$(rss)

started=$(date +%s.%N)
seq 1 "$N" | xargs -P "$N" -I{} curl -s -o /dev/null -w '%{http_code}\n' \
  -H 'content-type: application/json' \
  -d '{"username":"hashmem{}","password":"green-kettle-river-42"}' \
  "$url/api/v1/auth/register" > "$dir/codes"
elapsed=$(echo "$(date +%s.%N) - $started" | bc)
after=$(rss)
sleep 5
settled=$(rss)
created=$(grep -c '^201$' "$dir/codes" || true)
echo "{\"scenario\":\"hash_memory\",\"bin\":\"$BIN\",\"signups\":$N,\"created\":$created,\"seconds\":$elapsed,\"idle_mb\":$idle,\"after_mb\":$after,\"settled_mb\":$settled,\"cores\":$(nproc)}"
