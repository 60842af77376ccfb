#!/usr/bin/env python3
"""What other members keep while one address attacks (issue #19): slow clients and a socket flood.

    bench/attacks.py path/to/mutual [--half-open 3000] [--floods 300]

Starts the server on a fresh SQLite database with its default settings (limits on), makes an
admin, a public group and a member, then measures a member on another loopback address
(127.0.0.2) loading the group's page and `/healthz`:
  1. before any attack;
  2. while 127.0.0.1 holds `--half-open` connections that sent half a request line and stopped
     (how many the server keeps, and how many it has dropped after 30 s);
  3. while one socket sends `--floods` `subscribe` frames with `since: 0` (how many bytes it got
     back, and what it was told).
Prints one JSON object per phase. Standard library only; bounded in time and count.
"""

import argparse
import base64
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

MEMBER_ADDR = "127.0.0.2"


def http(port, method, path, body=None, token=None, source=MEMBER_ADDR, timeout=10):
    """One request on its own connection from `source`; (status, body bytes, seconds)."""
    data = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
    if token:
        head += f"Authorization: Bearer {token}\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
    start = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
    try:
        s.sendall(head.encode() + b"\r\n" + data)
        chunks = []
        while True:
            c = s.recv(65536)
            if not c:
                break
            chunks.append(c)
    finally:
        s.close()
    raw = b"".join(chunks)
    status = int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/") else 0
    return status, raw.split(b"\r\n\r\n", 1)[-1], time.perf_counter() - start


def member_latency(port, slug, n=100):
    times, failures = [], 0
    for i in range(n):
        path = f"/c/{slug}" if i % 2 == 0 else "/healthz"
        try:
            status, _, t = http(port, "GET", path, timeout=5)
            if status != 200:
                failures += 1
            times.append(t * 1000)
        except OSError:
            failures += 1
    times.sort()
    pct = lambda p: round(times[min(len(times) - 1, int(len(times) * p))], 2) if times else None
    return {"requests": n, "failed": failures, "p50_ms": pct(0.5), "p99_ms": pct(0.99),
            "max_ms": round(times[-1], 2) if times else None}


def still_open(sock):
    """Whether the server has not closed this half-open connection yet."""
    sock.setblocking(False)
    try:
        return sock.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def ws_connect(port, token):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /api/v1/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
               f"Authorization: Bearer {token}\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        c = s.recv(1)
        if not c:
            raise RuntimeError("the socket was refused")
        head += c
    if b" 101 " not in head.split(b"\r\n")[0]:
        raise RuntimeError(head.decode(errors="replace"))
    return s


def ws_send(s, text):
    payload = text.encode()
    mask = os.urandom(4)
    n = len(payload)
    header = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big"))
    s.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def ws_drain(s, seconds):
    """Reads for `seconds`: bytes received, text frames seen, the close code if any."""
    s.settimeout(0.2)
    got, frames, close = 0, [], None
    buf = b""
    end = time.time() + seconds
    while time.time() < end and close is None:
        try:
            c = s.recv(1 << 16)
        except socket.timeout:
            continue
        except OSError:
            break
        if not c:
            break
        got += len(c)
        buf += c
        while len(buf) >= 2:
            op, n = buf[0] & 0x0F, buf[1] & 0x7F
            off = 2
            if n == 126:
                if len(buf) < 4:
                    break
                n, off = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n, off = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < off + n:
                break
            body, buf = buf[off:off + n], buf[off + n:]
            if op == 1 and len(frames) < 2000:
                frames.append(body[:200].decode(errors="replace"))
            elif op == 8:
                close = int.from_bytes(body[:2], "big") if len(body) >= 2 else 1005
    return got, frames, close


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--half-open", type=int, default=3000)
    ap.add_argument("--floods", type=int, default=300)
    args = ap.parse_args()
    binary = os.path.realpath(args.binary)
    work = tempfile.mkdtemp(prefix="mutual-attacks-")
    env = dict(os.environ, MUTUAL_DATA_DIR=f"{work}/data", DATABASE_URL=f"sqlite://{work}/mutual.db",
               MUTUAL_LISTEN="127.0.0.1:0", RUST_LOG="warn")
    server = None
    try:
        subprocess.run([binary, "admin", "create-user", "--username", "alba", "--password",
                        "a long phrase only you know", "--role", "admin"], env=env, check=True,
                       capture_output=True)
        server = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        line = server.stdout.readline()
        port = int(line.rsplit(":", 1)[1].strip().rstrip("/"))
        _, body, _ = http(port, "POST", "/api/v1/auth/login",
                          {"username": "alba", "password": "a long phrase only you know"})
        admin = json.loads(body)["token"]
        http(port, "POST", "/api/v1/communities",
             {"slug": "walkers", "name": "Walkers", "description": "", "visibility": "public"}, admin)
        _, body, _ = http(port, "GET", "/api/v1/communities/walkers/rooms", token=admin)
        rooms = json.loads(body)
        room = (rooms["items"] if isinstance(rooms, dict) else rooms)[0]["id"]
        for i in range(20):
            http(port, "POST", "/api/v1/communities/walkers/topics",
                 {"title": f"Morning walk {i}", "body": "Twenty minutes after breakfast."}, admin)
        _, body, _ = http(port, "POST", "/api/v1/auth/register",
                          {"username": "flooder", "password": "green-kettle-river-42"}, source="127.0.0.3")
        flooder = json.loads(body)["token"]
        http(port, "POST", "/api/v1/communities/walkers/join", token=flooder, source="127.0.0.3")
        # A backlog worth asking for: messages in the room (as many as the admin's rate allows).
        talk = ws_connect(port, admin)
        ws_send(talk, json.dumps({"op": "subscribe", "room": room}))
        for i in range(50):
            ws_send(talk, json.dumps({"op": "send", "room": room, "nonce": str(i),
                                      "body": f"Message {i}: walked to the market and back. " * 4}))
            time.sleep(0.05)
        ws_drain(talk, 1)
        talk.close()
        print(json.dumps({"phase": "before", **member_latency(port, "walkers")}), flush=True)

        # 2. Half-open requests from one address.
        held = []
        for _ in range(args.half_open):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=2)
                s.sendall(b"GET /c/walkers HTTP/1.1\r\nHost: x\r\n")
                held.append(s)
            except OSError:
                break
        time.sleep(0.5)
        kept = sum(still_open(s) for s in held)
        during = member_latency(port, "walkers")
        time.sleep(max(0.0, 30.0 - 0.5))
        left = sum(still_open(s) for s in held)
        for s in held:
            s.close()
        print(json.dumps({"phase": "half-open", "opened": len(held), "kept_by_server": kept,
                          "still_open_after_30s": left, **during}), flush=True)

        # 3. One socket asks for every backlog again and again.
        ws = ws_connect(port, flooder)
        for _ in range(args.floods):
            ws_send(ws, json.dumps({"op": "subscribe", "room": room, "since": 0}))
        flood_result = {}

        def drain():
            got, frames, close = ws_drain(ws, 8)
            ops = {}
            for f in frames:
                try:
                    d = json.loads(f)
                except ValueError:
                    continue
                key = d.get("op") + (":" + d["code"] if d.get("op") == "error" else "")
                ops[key] = ops.get(key, 0) + 1
            flood_result.update(bytes_received=got, frames_by_op=ops, close_code=close)
        t = threading.Thread(target=drain)
        t.start()
        during = member_latency(port, "walkers")
        t.join()
        print(json.dumps({"phase": "subscribe-flood", "frames_sent": args.floods, **flood_result,
                          **during}), flush=True)
    finally:
        if server:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
