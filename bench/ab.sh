#!/usr/bin/env bash
# A/B of two server binaries on one machine, for figures that a noisy machine would otherwise
# hide: seeds one SQLite database, serves a copy of it with each binary on its own port, and runs
# each scenario against A then B, three rounds (the machine's drift hits both alike).
#
#   bench/ab.sh OLD_BINARY NEW_BINARY "forum-read --topic 1 --page first --connections 64 --seconds 4" ...
#
# POSTS (default 1,000,000) and ROUNDS (3) as in run.sh. SEED=each seeds each side with its own
# binary (the same seed, so the same data), for an OLD binary that cannot open the NEW one's
# schema. Prints one line per run: round, side, scenario, req/s (or msg/s), p99, and the server's
# CPU time per request.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 3 ] || { sed -n 2,9p "$0"; exit 2; }
old=$(realpath "$1") new=$(realpath "$2"); shift 2
POSTS=${POSTS:-1000000}
ROUNDS=${ROUNDS:-3}
cargo build -q --release -p mutual-bench --bin loadgen
LG=${CARGO_TARGET_DIR:-target}/release/loadgen
ulimit -n 20000
dir=$(mktemp -d -t mutual-ab-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
export MUTUAL_RATE_LIMITS=off RUST_LOG=warn,sqlx=error
mkdir -p "$dir/a" "$dir/b"
seed() { # side binary
  DATABASE_URL="sqlite://$dir/$1/mutual.db" MUTUAL_DATA_DIR="$dir/$1/data" "$2" admin seed --members 100000 \
    --posts "$POSTS" --big-topic-replies $(( POSTS >= 20000 ? 10000 : POSTS / 2 )) --chat-messages 100000 \
    --tokens 10000 --tokens-file "$dir/$1/tokens" | tail -n 1
}
if [ "${SEED:-}" = each ]; then
  seed a "$old"
  seed b "$new"
else
  seed a "$new"
  cp -a "$dir/a/." "$dir/b/"
fi
urls=()
for side in a b; do
  bin=$old; [ "$side" = b ] && bin=$new
  DATABASE_URL="sqlite://$dir/$side/mutual.db" MUTUAL_DATA_DIR="$dir/$side/data" MUTUAL_LISTEN=127.0.0.1:0 \
    "$bin" serve > "$dir/$side.out" 2> "$dir/$side.log" &
  pids+=($!)
  for _ in $(seq 1 300); do grep -q '^listening on ' "$dir/$side.out" 2>/dev/null && break; sleep 0.1; done
  urls+=("$(sed -n 's/^listening on //p' "$dir/$side.out" | head -n 1)")
done
. bench/lib.sh
for round in $(seq 1 "$ROUNDS"); do
  for scenario in "$@"; do
    for i in 0 1; do
      side=$([ $i = 0 ] && echo A || echo B)
      # shellcheck disable=SC2086 # the scenario is a list of arguments
      before=$(cpu_ticks "${pids[$i]}")
      line=$("$LG" --url "${urls[$i]}" --tokens-file "$dir/$([ $i = 0 ] && echo a || echo b)/tokens" --community seed $scenario | grep '^{' | tail -n 1)
      ticks=$(( $(cpu_ticks "${pids[$i]}") - before ))
      echo "$round $side [$scenario] $(python3 -c 'import json,sys
d=json.loads(sys.argv[1]); ticks=int(sys.argv[2]); hz=int(sys.argv[3])
cpu="cpu %.0f us/req" % (ticks/hz*1e6/d["ok"]) if d.get("ok") else ""
print(d.get("per_s", d.get("messages_per_s")), "p99", d.get("p99_ms", d.get("echo_p99_ms")), "errors", d.get("errors"), cpu)' "$line" "$ticks" "$(getconf CLK_TCK)")"
    done
  done
done
