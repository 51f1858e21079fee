#!/usr/bin/env python3
"""Start-to-first-request of `bomflow serve --ephemeral` (issue: ship it): the time from spawning
the process to the first successful poll answered with the API key it printed, i.e. what a test
harness waits for. Each run starts a new process on a new temporary data directory; the server is
stopped with SIGTERM afterwards (not timed) and must exit 0 and remove its directory.

Usage: startup.py RUNS BINARY [BINARY...]   (one table row per binary)"""
import json
import os
import socket
import statistics
import subprocess
import sys
import time

runs = int(sys.argv[1])
binaries = sys.argv[2:]
TOKEN = "00000001-0000-4000-8000-000000000001"


def first_request(url, key):
    host, port = url.removeprefix("http://").rsplit(":", 1)
    request = f"GET /api/v1/event/token/{TOKEN} HTTP/1.1\r\nHost: t\r\nX-Api-Key: {key}\r\n\r\n".encode()
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(request)
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.endswith(b"}"):
            chunk = connection.recv(4096)
            if not chunk:
                break
            reply += chunk
    return reply.startswith(b"HTTP/1.1 200") and reply.endswith(b'{"processing":false}')


print(f"## Start to first request: `serve --ephemeral`, spawn -> first 200 poll with the printed key; {runs} runs each\n")
print("| binary | bytes | median ms | p99 ms | min ms | max ms |")
print("|---|---:|---:|---:|---:|---:|")
for binary in binaries:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        server = subprocess.Popen([binary, "serve", "--ephemeral", "--log-level", "warning"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            info = json.loads(server.stdout.readline())
            if not first_request(info["url"], info["apiKey"]):
                raise SystemExit(f"{binary}: the first poll failed")
            timings.append((time.perf_counter() - started) * 1000)
        finally:
            server.terminate()
            try:
                status = server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                raise SystemExit(f"{binary}: still running 10 s after SIGTERM")
            if status != 0:
                raise SystemExit(f"{binary}: exit status {status}")
        if os.path.exists(info["dataDir"]):
            raise SystemExit(f"{binary}: {info['dataDir']} outlived the server")
    timings.sort()
    p99 = timings[min(len(timings) - 1, int(round(0.99 * (len(timings) - 1))))]
    print(f"| {binary} | {os.path.getsize(binary):,} | {statistics.median(timings):.1f} | {p99:.1f} | {timings[0]:.1f} | {timings[-1]:.1f} |")
