#!/usr/bin/env python3
"""Server memory under slow readers of large pages and stalled stream subscribers.

Starts `quorum serve` on a fresh data directory, fills the log with sessions of large metadata,
then, while sampling the server's resident memory (VmRSS in /proc/<pid>/status) every 100 ms:

  1. readers:     N clients ask for the largest page of /v1/events (after=0, limit=1000) with a
                  tiny receive buffer and read it a few KB a second;
  2. subscribers: M WebSocket clients open /v1/stream?after=0 and never read a byte;
  3. both:        the two together.

Each phase holds its clients for --hold seconds, then closes them and lets the server settle.
Prints one JSON line per phase (rss before, peak, peak - before, in MiB) and a summary. Python 3
standard library only; see docs/benchmarks.md ("Memory bounds").
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import http.client

MIB = 1024 * 1024


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class Sampler:
    """Samples a process's RSS every `interval` seconds in a thread; keeps the peak."""

    def __init__(self, pid, interval=0.1):
        self.pid, self.interval = pid, interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def start_server(binary, data, extra):
    env = dict(os.environ)
    # Under AddressSanitizer, freed memory waits in a quarantine (256 MB by default) that would
    # hide what the server itself holds; harmless for other builds.
    env.setdefault("ASAN_OPTIONS", "quarantine_size_mb=8:detect_leaks=0")
    proc = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--data", data, "--no-access-log"] + extra,
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("msg") == "listening":
            port = int(rec["addr"].rsplit(":", 1)[1])
            # Keep draining stderr so that the server never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return proc, port
    proc.kill()
    raise SystemExit("the server did not start")


def populate(port, sessions, metadata_bytes, threads=4):
    body = json.dumps({"query": "memory bench", "metadata": {"blob": "m" * metadata_bytes}})
    per_thread = (sessions + threads - 1) // threads
    errors = []

    def work(n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for _ in range(n):
            conn.request("POST", "/v1/sessions", body, {"Content-Type": "application/json"})
            res = conn.getresponse()
            res.read()
            if res.status != 201:
                errors.append(res.status)
                return
        conn.close()

    ts = [threading.Thread(target=work, args=(min(per_thread, sessions - i * per_thread),))
          for i in range(threads) if sessions - i * per_thread > 0]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise SystemExit(f"populating failed: HTTP {errors[0]}")


def small_socket(port, rcvbuf):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    return s


class SlowReader(threading.Thread):
    """Requests `target` and reads the answer `chunk` bytes every second until stopped."""

    def __init__(self, port, target, rcvbuf, chunk):
        super().__init__(daemon=True)
        self.sock = small_socket(port, rcvbuf)
        self.sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        self.chunk = chunk
        self.received = 0
        self.stop = threading.Event()

    def run(self):
        self.sock.settimeout(1.0)
        while not self.stop.is_set():
            try:
                data = self.sock.recv(self.chunk)
            except socket.timeout:
                continue
            except OSError:
                return
            if not data:
                return
            self.received += len(data)
            self.stop.wait(1.0)

    def close(self):
        self.stop.set()
        self.join()
        self.sock.close()


def stalled_subscriber(port, rcvbuf):
    """A WebSocket client of /v1/stream?after=0 that never reads anything."""
    s = small_socket(port, rcvbuf)
    s.sendall((f"GET /v1/stream?after=0 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               "Upgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
              .encode())
    return s


def settle(pid, seconds=3.0):
    time.sleep(seconds)
    return rss_bytes(pid)


def phase(name, pid, port, args, readers, subscribers):
    before = settle(pid, 2.0)
    opened_readers, opened_subs = [], []
    with Sampler(pid) as sampler:
        for _ in range(readers):
            r = SlowReader(port, "/v1/events?after=0&limit=1000", args.rcvbuf, args.read_chunk)
            r.start()
            opened_readers.append(r)
        for _ in range(subscribers):
            opened_subs.append(stalled_subscriber(port, args.rcvbuf))
        time.sleep(args.hold)
    for r in opened_readers:
        r.close()
    for s in opened_subs:
        s.close()
    after = settle(pid)
    rec = {"phase": name, "readers": readers, "subscribers": subscribers,
           "rss_before_mib": round(before / MIB, 1), "rss_peak_mib": round(sampler.peak / MIB, 1),
           "added_mib": round((sampler.peak - before) / MIB, 1),
           "rss_after_close_mib": round(after / MIB, 1)}
    print(json.dumps(rec), flush=True)
    return rec


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", default="build/release/quorum", help="the quorum binary")
    p.add_argument("--sessions", type=int, default=1000, help="sessions in the log (1000)")
    p.add_argument("--metadata-bytes", type=int, default=100_000,
                   help="metadata per session, under --max-body-bytes (100000)")
    p.add_argument("--readers", type=int, default=6, help="slow readers (6)")
    p.add_argument("--subscribers", type=int, default=10, help="stalled subscribers (10)")
    p.add_argument("--hold", type=float, default=15, help="seconds each phase holds (15)")
    p.add_argument("--rcvbuf", type=int, default=4096, help="client receive buffer (4096)")
    p.add_argument("--read-chunk", type=int, default=4096,
                   help="bytes a slow reader reads a second (4096)")
    p.add_argument("--server-arg", action="append", default=[],
                   help="extra argument for quorum serve (repeatable)")
    args = p.parse_args()

    data = tempfile.mkdtemp(prefix="quorum-memory-")
    proc, port = start_server(args.binary, data, args.server_arg)
    try:
        t0 = time.time()
        populate(port, args.sessions, args.metadata_bytes)
        print(json.dumps({"populated_sessions": args.sessions,
                          "metadata_bytes": args.metadata_bytes,
                          "seconds": round(time.time() - t0, 1),
                          "rss_mib": round(rss_bytes(proc.pid) / MIB, 1)}), flush=True)
        results = [
            phase("readers", proc.pid, port, args, args.readers, 0),
            phase("subscribers", proc.pid, port, args, 0, args.subscribers),
            phase("both", proc.pid, port, args, args.readers, args.subscribers),
        ]
        print("\nphase        clients   RSS before   peak      added", file=sys.stderr)
        for r in results:
            print(f"{r['phase']:<12} {r['readers']:>2} + {r['subscribers']:<3}  "
                  f"{r['rss_before_mib']:>8.1f}  {r['rss_peak_mib']:>8.1f}  "
                  f"{r['added_mib']:>8.1f} MiB", file=sys.stderr)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
