# Helpers shared by the A/B scripts (sourced, not run).

# The address a server printed as `listening on [http://]ADDR` in FILE, waiting up to 60 s.
wait_addr() {
  for _ in $(seq 1 600); do grep -q 'listening on ' "$1" 2>/dev/null && break; sleep 0.1; done
  sed -n 's/.*listening on //p' "$1" | head -n 1 | sed 's#^http://##'
}

# A process's CPU time so far (user + system, in clock ticks: `getconf CLK_TCK` per second).
# Per request or delivery, it does not depend on which process a shared machine favours.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# Logs in the bench admin that `admin create-user` made: its bearer token.
bench_admin_token() { # addr
  curl -sf -H 'content-type: application/json' \
    -d '{"username":"benchadmin","password":"bench-admin-password-1"}' "http://$1/api/v1/auth/login" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
