#!/usr/bin/env bash
# The benchmark run behind BENCHMARKS.md: seeds a database, starts release server(s), runs every
# scenario RUNS times and prints each figure's median. Each scenario run is bounded (≤ ~30 s).
#
#   bench/run.sh                               # SQLite, one node, 1,000,000 posts
#   BACKEND=postgres bench/run.sh              # PostgreSQL (DATABASE_URL of an empty database
#                                              #   server: PG_ADMIN_URL, default postgres://postgres@127.0.0.1:5432/postgres)
#   BACKEND=postgres NODES=2 ONLY=chat bench/run.sh   # two nodes sharing PostgreSQL + Redis
#   POSTS=10000 ONLY=read bench/run.sh         # the small database, for the read-latency ratio
#
# Results: one JSON line per run in $OUT (default bench/results/<backend>-<nodes>n-<posts>.jsonl).
set -euo pipefail
cd "$(dirname "$0")/.."

BACKEND=${BACKEND:-sqlite}
NODES=${NODES:-1}
RUNS=${RUNS:-3}
POSTS=${POSTS:-1000000}
MEMBERS=${MEMBERS:-100000}
SECONDS_PER=${SECONDS_PER:-10}
ONLY=${ONLY:-all}   # all | chat | read | write | mixed | idle
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
REDIS=${REDIS:-redis://127.0.0.1:6379}
mkdir -p bench/results
OUT=${OUT:-bench/results/$BACKEND-${NODES}n-$POSTS.jsonl}

cargo build -q --release -p mutual --bin mutual -p mutual-bench --bin loadgen
BIN=target/release
ulimit -n 20000
dir=$(mktemp -d -t mutual-bench-XXXXXX)
pids=()
dbname=
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ -n "$dbname" ]; then psql "$PG_ADMIN_URL" -qc "drop database if exists $dbname" >/dev/null 2>&1 || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

export MUTUAL_DATA_DIR="$dir/data" MUTUAL_RATE_LIMITS=off RUST_LOG=warn,sqlx=error
if [ "$BACKEND" = postgres ]; then
  dbname="bench_$$"
  psql "$PG_ADMIN_URL" -qc "create database $dbname" >/dev/null
  export DATABASE_URL="${PG_ADMIN_URL%/*}/$dbname"
else
  export DATABASE_URL="sqlite://$dir/mutual.db"
fi
echo "==> seeding $BACKEND: $MEMBERS members, $POSTS posts"
big_replies=$(( POSTS >= 20000 ? 10000 : POSTS / 2 ))
/usr/bin/time -f "seed: %e s, max RSS %M KiB" "$BIN/mutual" admin seed --members "$MEMBERS" --posts "$POSTS" \
  --big-topic-replies "$big_replies" --chat-messages 100000 --tokens 10000 --tokens-file "$dir/tokens" | tee "$dir/seed.out"
big=$(sed -n 's/.*"big_topic":\([0-9]*\).*/\1/p' "$dir/seed.out")
grep '^{' "$dir/seed.out" | sed 's/^{/{"scenario":"seed","backend":"'"$BACKEND"'",/' >> "$OUT"

urls=()
for n in $(seq 1 "$NODES"); do
  if [ "$NODES" -gt 1 ]; then export REDIS_URL=$REDIS MUTUAL_REDIS_PREFIX="bench-$$"; fi
  MUTUAL_LISTEN=127.0.0.1:0 "$BIN/mutual" serve > "$dir/server$n.out" 2> "$dir/server$n.log" &
  pids+=($!)
  for _ in $(seq 1 300); do grep -q '^listening on ' "$dir/server$n.out" 2>/dev/null && break; sleep 0.1; done
  urls+=(--url "$(sed -n 's/^listening on //p' "$dir/server$n.out" | head -n 1)")
done
echo "==> servers: ${urls[*]} (pids ${pids[*]})"

lg() {
  "$BIN/loadgen" "${urls[@]}" --tokens-file "$dir/tokens" --community seed "$@" | tee "$dir/last.out" || true
  grep '^{"' "$dir/last.out" | tail -n 1 | sed 's/^{/{"backend":"'"$BACKEND"'","posts":'"$POSTS"',/' >> "$OUT"
}
want() { [ "$ONLY" = all ] || [[ ",$ONLY," == *",$1,"* ]]; }
# Idle memory first, on the fresh server: once other scenarios have grown its heap, new sockets
# reuse freed memory and look cheaper than they are.
if want idle && [ "$NODES" = 1 ]; then lg idle-sockets --pid "${pids[0]}" --sockets 10000; fi
for run in $(seq 1 "$RUNS"); do
  echo "==> run $run of $RUNS"
  if want read; then
    lg forum-read --topic "$big" --page first --connections 64 --seconds "$SECONDS_PER"
    lg forum-read --topic "$big" --page deep --connections 64 --seconds "$SECONDS_PER"
    lg forum-read --topic "$big" --page first --html --connections 64 --seconds "$SECONDS_PER"
  fi
  if want write; then lg forum-write --connections 16 --seconds "$SECONDS_PER"; fi
  if want chat; then
    lg chat-fanout --sockets 1000 --messages $(( 20 * SECONDS_PER )) --rate 20
    lg chat-throughput --listeners 1000 --senders 8 --window 16 --seconds "$SECONDS_PER"
    lg chat-fanout --sockets 10000 --messages $(( 10 * SECONDS_PER )) --rate 10
  fi
  if want mixed; then lg mixed-day --big-topic "$big" --members 1000 --seconds $(( 2 * SECONDS_PER )); fi
done
echo "==> results in $OUT"
python3 bench/medians.py "$OUT"
