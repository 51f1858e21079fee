#!/usr/bin/env python3
"""HTTP layer benchmark (issue: our own HTTP/1.1 layer): bomflow-http-fixture's /fixed handler
(a 20-byte JSON body) next to nginx-light returning the same body, with wrk on loopback.
Rounds alternate between the two servers and medians are reported, because the machine is
noisy. Also reports the fixture's RSS idle and with 10,000 idle keep-alive connections.
Usage: http.py FIXTURE_BINARY [ROUNDS] [SECONDS]"""
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import parse_wrk, wait_port  # noqa: E402

fixture, rounds, seconds = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5, int(sys.argv[3]) if len(sys.argv) > 3 else 5
NGINX_PORT, BOMFLOW_PORT = 18191, 18192
BODY = '{"processing":false}'


def start_nginx(directory):
    config = os.path.join(directory, "nginx.conf")
    with open(config, "w") as handle:
        handle.write(f"""worker_processes 2;
daemon off;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 20000; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{NGINX_PORT} reuseport;
        location / {{ default_type application/json; return 200 '{BODY}'; }}
    }}
}}
""")
    return subprocess.Popen(["nginx", "-c", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wrk(port, threads, connections):
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", f"http://127.0.0.1:{port}/fixed"],
                         capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as handle:
        return int(re.search(r"VmRSS:\s+(\d+)", handle.read()).group(1))


soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
directory = tempfile.mkdtemp(prefix="bomflow-http-bench-")
nginx = start_nginx(directory)
server = subprocess.Popen([fixture, "--port", str(BOMFLOW_PORT), "--loops", "2", "--max-connections", "20000"], stdout=subprocess.PIPE, text=True)
try:
    wait_port(NGINX_PORT)
    wait_port(BOMFLOW_PORT)
    fresh = rss_kib(server.pid)
    for label, port in [("warm-up", NGINX_PORT), ("warm-up", BOMFLOW_PORT)]:
        wrk(port, 2, 64)
    print(f"## HTTP layer: fixed 20-byte JSON response, wrk on loopback, {rounds} alternating rounds of {seconds} s, medians\n")
    print("| load | server | requests/s | p50 ms | p99 ms | non-2xx |")
    print("|---|---|---:|---:|---:|---:|")
    summary = {}
    for threads, connections in [(2, 64), (1, 1)]:
        results = {"nginx": [], "bomflow": []}
        for _ in range(rounds):
            for name, port in [("nginx", NGINX_PORT), ("bomflow", BOMFLOW_PORT)]:
                results[name].append(wrk(port, threads, connections))
        for name in ["nginx", "bomflow"]:
            rps = statistics.median(r[0] for r in results[name])
            p50 = statistics.median(r[1] for r in results[name])
            p99 = statistics.median(r[2] for r in results[name])
            errors = sum(r[3] for r in results[name])
            summary[(threads, connections, name)] = (rps, p50, p99)
            print(f"| -t{threads} -c{connections} | {name} | {rps:,.0f} | {p50:.3f} | {p99:.3f} | {errors} |")
    print()
    for threads, connections in [(2, 64), (1, 1)]:
        mine, theirs = summary[(threads, connections, "bomflow")], summary[(threads, connections, "nginx")]
        print(f"-t{threads} -c{connections}: throughput {mine[0] / theirs[0]:.2f}x nginx, p99 {mine[2]:.3f} ms vs {theirs[2]:.3f} ms")
    idle = rss_kib(server.pid)
    sockets = []
    for _ in range(10_000):
        connection = socket.create_connection(("127.0.0.1", BOMFLOW_PORT))
        connection.sendall(b"GET /fixed HTTP/1.1\r\nHost: b\r\n\r\n")
        sockets.append(connection)
    for connection in sockets:
        connection.recv(4096)
    time.sleep(0.5)
    loaded = rss_kib(server.pid)
    print(f"\nbomflow-http-fixture RSS: {fresh / 1024:.1f} MiB idle after start, {idle / 1024:.1f} MiB after the load runs, {loaded / 1024:.1f} MiB with 10,000 idle keep-alive connections "
          f"({(loaded - idle) * 1024 / 10_000:,.0f} bytes per connection)")
    for connection in sockets:
        connection.close()
finally:
    server.terminate()
    nginx.terminate()
    server.wait(timeout=15)
    nginx.wait(timeout=15)
    shutil.rmtree(directory, ignore_errors=True)
