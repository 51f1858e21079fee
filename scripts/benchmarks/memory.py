#!/usr/bin/env python3
"""Size and memory of the shipped binaries (issue: performance to the goals): for each BINARY, its
size on disk, then `BINARY serve` on a new data directory — its RSS idle (after the first poll,
split as smaps_rollup splits it: anonymous memory against clean pages of files, mostly the
executable's own code that the kernel maps around each page fault from the page cache) and its
threads, then its RSS with 10,000 idle keep-alive connections open (--max-connections 12000; each
connection sent one poll first, so that it holds what a polling client's connection holds).

Usage: memory.py BINARY [BINARY...]   (one table row per binary)"""
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import wait_port  # noqa: E402

CONNECTIONS = 10_000
PORT = 18_611
TOKEN = "00000001-0000-4000-8000-000000000001"


def rollup(pid):
    """smaps_rollup's fields in KiB."""
    fields = {}
    for line in open(f"/proc/{pid}/smaps_rollup"):
        parts = line.split()
        if len(parts) == 3 and parts[2] == "kB":
            fields[parts[0].rstrip(":")] = int(parts[1])
    return fields


def poll(connection, key):
    connection.sendall(f"GET /api/v1/event/token/{TOKEN} HTTP/1.1\r\nHost: t\r\nX-Api-Key: {key}\r\n\r\n".encode())
    reply = b""
    while not (b"\r\n\r\n" in reply and reply.endswith(b"}")):
        chunk = connection.recv(4096)
        if not chunk:
            raise SystemExit("memory.py: the server closed a connection")
        reply += chunk
    if not reply.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"memory.py: unexpected answer {reply[:80]!r}")


soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if hard != resource.RLIM_INFINITY and hard < CONNECTIONS + 200:
    raise SystemExit(f"memory.py: needs {CONNECTIONS + 200} open files, the hard limit is {hard}")
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

print(f"## Size and memory: `serve` idle and with {CONNECTIONS:,} idle keep-alive connections\n")
print("| binary | size | idle RSS | of it anonymous | of it file pages | threads | RSS with 10,000 connections | anonymous then |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for binary in sys.argv[1:]:
    work = tempfile.mkdtemp(prefix="bomflow-memory-bench-")
    server = subprocess.Popen([binary, "serve", "--data-dir", f"{work}/data", "--port", str(PORT), "--max-connections", str(CONNECTIONS + 2000),
                               "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    connections = []
    try:
        wait_port(PORT)
        key = open(f"{work}/data/admin.key").read().strip()
        with socket.create_connection(("127.0.0.1", PORT)) as first:
            poll(first, key)
        time.sleep(1)
        idle = rollup(server.pid)
        threads = len(os.listdir(f"/proc/{server.pid}/task"))
        for _ in range(CONNECTIONS):
            connection = socket.create_connection(("127.0.0.1", PORT))
            poll(connection, key)
            connections.append(connection)
        time.sleep(1)
        open_fds = len(os.listdir(f"/proc/{server.pid}/fd"))
        if open_fds < CONNECTIONS:
            raise SystemExit(f"memory.py: the server holds {open_fds} descriptors, fewer than {CONNECTIONS:,} connections")
        loaded = rollup(server.pid)
        mib = lambda kib: f"{kib / 1024:.1f} MiB"
        print(f"| {os.path.basename(binary)} | {os.path.getsize(binary) / 1e6:.1f} MB | {mib(idle['Rss'])} | {mib(idle['Anonymous'])} | "
              f"{mib(idle['Rss'] - idle['Anonymous'])} | {threads} | {mib(loaded['Rss'])} | {mib(loaded['Anonymous'])} |")
    finally:
        for connection in connections:
            connection.close()
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
