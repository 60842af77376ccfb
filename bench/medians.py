#!/usr/bin/env python3
"""Medians per scenario (and its distinguishing settings) of the JSON lines loadgen printed."""
import json, statistics, sys
from collections import defaultdict

KEYS = ("backend", "posts", "nodes", "page", "sockets", "listeners", "members", "connections", "auth", "html")
FIGS = ("per_s", "p50_ms", "p99_ms", "max_ms", "messages_per_s", "deliveries_per_s", "echo_p99_ms",
        "lost", "errors", "bytes_per_socket", "first_half_bytes_per_socket", "read_p99_ms", "reply_p99_ms", "chat_p99_ms", "posts_per_second", "seconds")
groups = defaultdict(list)
for path in sys.argv[1:]:
    for line in open(path):
        line = line.strip()
        if not line.startswith("{"):
            continue
        d = json.loads(line)
        key = (d.get("scenario"),) + tuple(f"{k}={d[k]}" for k in KEYS if k in d)
        groups[key].append(d)
for key, runs in sorted(groups.items(), key=lambda kv: str(kv[0])):
    out = []
    for f in FIGS:
        vals = [r[f] for r in runs if isinstance(r.get(f), (int, float))]
        if vals:
            out.append(f"{f}={statistics.median(vals):g}")
    print(f"{' '.join(map(str, key))} (n={len(runs)}): {' '.join(out)}")
