#!/usr/bin/env bash
# The shared load's HTTP scenarios (issue #20), the API double and two Mutual binaries back to
# back in one run: each round runs `mutual_load --scenario $SCENARIO` against the double, then
# the OLD binary, then the NEW one (each on its own fresh SQLite database, rate limits off).
# SCENARIO=read (default): signed-in topic pages, first and deep; SCENARIO=write: replies.
#
#   [SCENARIO=write] bench/limit_http_ab.sh OLD_BINARY NEW_BINARY
#
# ROUNDS (default 3), DURATION (10 s per page kind or of replies), USERS (100), CONCURRENCY (64),
# REPLIES (500, the read topic's length).
# Needs the double and the load built first (../shared is read-only):
#   CARGO_TARGET_DIR=target/bench-limit cargo build --release --manifest-path ../shared/bench-limit/Cargo.toml
# Prints one line per run (round, side, req/s and p99) and appends the raw JSON lines to
# bench/results/limit-$SCENARIO-ab.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { sed -n 2,12p "$0"; exit 2; }
old=$(realpath "$1") new=$(realpath "$2")
SCENARIO=${SCENARIO:-read}
ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-10} USERS=${USERS:-100} CONCURRENCY=${CONCURRENCY:-64} REPLIES=${REPLIES:-500}
BL=${BL:-target/bench-limit/release}
out=bench/results/limit-$SCENARIO-ab.jsonl
mkdir -p bench/results
ulimit -n 20000 2>/dev/null || true
dir=$(mktemp -d -t mutual-limit-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
export RUST_LOG=warn,sqlx=error
. bench/lib.sh
MUTUAL_LISTEN=127.0.0.1:0 "$BL/mock_mutual" > "$dir/mock.out" 2> "$dir/mock.log" &
pids+=($!)
mock_addr=$(wait_addr "$dir/mock.out")
addrs=() tokens=()
for side in old new; do
  bin=$old; [ "$side" = new ] && bin=$new
  mkdir -p "$dir/$side"
  export DATABASE_URL="sqlite://$dir/$side/mutual.db" MUTUAL_DATA_DIR="$dir/$side/data"
  "$bin" admin create-user --username benchadmin --password "bench-admin-password-1" --role admin > /dev/null
  MUTUAL_RATE_LIMITS=off MUTUAL_LISTEN=127.0.0.1:0 "$bin" serve > "$dir/$side.out" 2> "$dir/$side.log" &
  pids+=($!)
  addr=$(wait_addr "$dir/$side.out")
  token=$(bench_admin_token "$addr")
  addrs+=("$addr") tokens+=("$token")
done
unset DATABASE_URL MUTUAL_DATA_DIR
for round in $(seq 1 "$ROUNDS"); do
  for side in double old new; do
    case $side in
      double) addr=$mock_addr token=mock-admin-token ;;
      old) addr=${addrs[0]} token=${tokens[0]} ;;
      new) addr=${addrs[1]} token=${tokens[1]} ;;
    esac
    line=$({ "$BL/mutual_load" --base "http://$addr" --admin-token "$token" --scenario "$SCENARIO" \
      --users "$USERS" --concurrency "$CONCURRENCY" --duration "$DURATION" --replies "$REPLIES" 2> /dev/null || true; } |
      grep '^{' | tail -n 1)
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["ab"]={"round":int(sys.argv[2]),"side":sys.argv[3]}; print(json.dumps(d))' \
      "$line" "$round" "$side" >> "$out"
    python3 - "$line" "$round" "$side" <<'EOF'
import json, sys
d = json.loads(sys.argv[1])
def f(r, k):
    p = r.get(k) or {}
    lat = p.get("latency_ms") or {}
    return f'{p.get("ok_per_s")} req/s p99 {lat.get("p99")} ms errors {p.get("errors")}'
if "write" in d:
    print(f'{sys.argv[2]} {sys.argv[3]:6} replies: {f(d["write"], "replies")}')
else:
    r = d.get("read") or {}
    print(f'{sys.argv[2]} {sys.argv[3]:6} first: {f(r, "first_page")} | deep: {f(r, "deep_page")}')
EOF
  done
done
