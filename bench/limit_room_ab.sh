#!/usr/bin/env bash
# The shared load's big room (issue #20.2), the API double and two Mutual binaries back to back
# in one run: each round runs `mutual_load --scenario fanout` against the double, then the OLD
# binary, then the NEW one, each on a fresh server (and a fresh SQLite database), rate limits off.
#
#   bench/limit_room_ab.sh OLD_BINARY NEW_BINARY
#
# ROUNDS (default 3), CONNS (10000 sockets), MSGS (160), RATE (20 messages/s), USERS (200).
# Needs the double and the load built first (../shared is read-only):
#   CARGO_TARGET_DIR=target/bench-limit cargo build --release --manifest-path ../shared/bench-limit/Cargo.toml
# and `ulimit -n` above CONNS. Prints one line per run (round, side, p50 and p99 latency,
# deliveries per second, lost, the server's CPU time per delivery) and appends the raw JSON lines
# to bench/results/limit-room-ab.jsonl. The CPU time covers the whole run, the USERS sign-ups'
# password hashing included (about 3 us per delivery of Mutual's figure; the double hashes
# nothing): compare it between the two binaries, not with the double.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { sed -n 2,13p "$0"; exit 2; }
old=$(realpath "$1") new=$(realpath "$2")
ROUNDS=${ROUNDS:-3} CONNS=${CONNS:-10000} MSGS=${MSGS:-160} RATE=${RATE:-20} USERS=${USERS:-200}
BL=${BL:-target/bench-limit/release}
out=bench/results/limit-room-ab.jsonl
mkdir -p bench/results
dir=$(mktemp -d -t mutual-room-XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
export RUST_LOG=warn,sqlx=error
. bench/lib.sh
for round in $(seq 1 "$ROUNDS"); do
  for side in double old new; do
    rm -rf "$dir/db" && mkdir -p "$dir/db"
    if [ "$side" = double ]; then
      MUTUAL_LISTEN=127.0.0.1:0 "$BL/mock_mutual" > "$dir/server.out" 2> "$dir/server.log" &
      pid=$!
      addr=$(wait_addr "$dir/server.out") token=mock-admin-token
    else
      bin=$old; [ "$side" = new ] && bin=$new
      export DATABASE_URL="sqlite://$dir/db/mutual.db" MUTUAL_DATA_DIR="$dir/db/data"
      "$bin" admin create-user --username benchadmin --password "bench-admin-password-1" --role admin > /dev/null
      MUTUAL_RATE_LIMITS=off MUTUAL_LISTEN=127.0.0.1:0 "$bin" serve > "$dir/server.out" 2> "$dir/server.log" &
      pid=$!
      unset DATABASE_URL MUTUAL_DATA_DIR
      addr=$(wait_addr "$dir/server.out")
      token=$(bench_admin_token "$addr")
    fi
    before=$(cpu_ticks "$pid")
    line=$({ "$BL/mutual_load" --base "http://$addr" --admin-token "$token" --scenario fanout \
      --users "$USERS" --conns "$CONNS" --msgs "$MSGS" --rate "$RATE" --conn-conc 256 2> /dev/null || true; } |
      grep '^{' | tail -n 1)
    used=$(( $(cpu_ticks "$pid") - before ))
    kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=
    [ -n "$line" ] || { echo "$round $side: no result"; continue; }
    echo "{\"round\":$round,\"side\":\"$side\",\"cpu_ticks\":$used,\"result\":$line}" >> "$out"
    python3 - "$round" "$side" "$used" "$(getconf CLK_TCK)" "$line" <<'EOF'
import json, sys
round_, side, ticks, hz, line = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
f = json.loads(line)["fanout"]
cpu = ticks / hz * 1e6 / max(f["delivered"], 1)
print(f'{round_} {side:6} p50 {f["latency_ms"]["p50"]} ms p99 {f["latency_ms"]["p99"]} ms, '
      f'{f["deliveries_per_s"]:.0f} deliveries/s, lost {f["lost"]}, cpu {cpu:.1f} us/delivery')
EOF
  done
done
