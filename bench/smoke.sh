#!/usr/bin/env bash
# Smoke run of every load scenario, small and short, against a freshly seeded SQLite server.
# Fails on errors or lost messages (loadgen's exit status), never on timing. Called from
# scripts/test; takes well under a minute. PROFILE=release uses the release binaries.
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE=${PROFILE:-debug}
if [ "$PROFILE" = debug ] && [ -n "${MUTUAL_PREBUILT:-}" ]; then
  : # scripts/test built target/debug/mutual and loadgen with everything else
elif [ "$PROFILE" = release ]; then
  cargo build -q --release -p mutual --bin mutual -p mutual-bench --bin loadgen
else
  cargo build -q -p mutual --bin mutual -p mutual-bench --bin loadgen
fi
BIN=target/$PROFILE
dir=$(mktemp -d -t mutual-smoke-XXXXXX)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
ulimit -n 4096 2>/dev/null || true

export DATABASE_URL="sqlite://$dir/mutual.db" MUTUAL_DATA_DIR="$dir/data" MUTUAL_RATE_LIMITS=off RUST_LOG=warn,sqlx=error
unset REDIS_URL

say() { printf '==> smoke: %s\n' "$*"; }
say "seeding"
"$BIN/mutual" admin seed --members 300 --communities 3 --posts 3000 --big-topic-replies 500 \
  --chat-messages 200 --tokens 200 --tokens-file "$dir/tokens" > "$dir/seed.out"
cat "$dir/seed.out"
big=$(sed -n 's/.*"big_topic":\([0-9]*\).*/\1/p' "$dir/seed.out")
[ -n "$big" ] || { echo "smoke: no big topic in the seed's report" >&2; exit 1; }

MUTUAL_LISTEN=127.0.0.1:0 "$BIN/mutual" serve > "$dir/server.out" 2> "$dir/server.log" &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q '^listening on ' "$dir/server.out" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$dir/server.log" >&2; exit 1; }
  sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$dir/server.out" | head -n 1)
[ -n "$url" ] || { echo "smoke: the server did not start" >&2; cat "$dir/server.log" >&2; exit 1; }
say "server at $url (pid $server_pid)"

lg() { "$BIN/loadgen" --url "$url" --tokens-file "$dir/tokens" --community seed "$@"; }
failed=()
run() {
  say "$*"
  if ! lg "$@"; then failed+=("$1"); fi
}
run chat-fanout --sockets 50 --messages 40 --rate 40 --senders 5
run chat-throughput --listeners 20 --senders 2 --window 4 --seconds 2
run forum-read --topic "$big" --page both --connections 4 --seconds 2
run forum-read --topic "$big" --page deep --connections 2 --seconds 1 --auth
run forum-write --connections 2 --seconds 2
run mixed-day --big-topic "$big" --members 60 --seconds 4 --think 0.5
run idle-sockets --pid "$server_pid" --sockets 50

if [ ${#failed[@]} -gt 0 ]; then
  echo "smoke: FAILED scenarios: ${failed[*]}" >&2
  tail -n 20 "$dir/server.log" >&2
  exit 1
fi
say "every scenario ran without errors or losses"
