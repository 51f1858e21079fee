#!/usr/bin/env python3
"""Webhook delivery of `bomflow serve` (release build, LMDB, sync full, API key), to nginx-light as
the receiver (`return 200`, arrival logged with $msec and the notification id), in one run:

1. Latency: one-step workflows completed one at a time (20 ms apart); from the completing PATCH's
   answer (client clock) to the notification's arrival at the receiver (same host, same clock):
   p50, p99, max over LATENCY_RUNS.
2. Throughput: BACKLOG workflows completed while delivery is off (`--no-webhook-delivery`), then
   a server with delivery on drains the queue: deliveries per second from the first arrival to
   the last, and the time to drain.
3. The outbox's cost on durable step updates (wrk -t2 -c64, PATCH BOM_CONSUMPTION COMPLETED of
   random workflows of a WORKFLOWS store: each first completion causes one BOM_CONSUMED): no
   webhook, a webhook with delivery off (the outbox writes alone), a webhook with delivery on
   (writes and sending); alternating rounds, medians, ratios to "none".
Usage: webhooks.py BIN_DIR [WORKFLOWS] [SECONDS] [ROUNDS]"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import alternating, parse_wrk, wait_port  # noqa: E402

bin_dir = sys.argv[1]
workflows = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 10
rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 3
latency_runs = int(os.environ.get("LATENCY_RUNS", "300"))
backlog = int(os.environ.get("BACKLOG", "5000"))
TOKEN = "00000001-0000-4000-8000-%012x"
NGINX_PORT = 18501
work = tempfile.mkdtemp(prefix="bomflow-webhooks-")
processes = []


def start_server(data, port, *extra):
    server = subprocess.Popen([f"{bin_dir}/bomflow", "serve", "--data-dir", data, "--port", str(port), "--loops", "2",
                               "--log-level", "error", *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes.append(server)
    wait_port(port)
    for _ in range(200):
        if os.path.exists(f"{data}/admin.key"):
            break
        time.sleep(0.05)
    return server, open(f"{data}/admin.key").read().strip()


def stop(server):
    server.terminate()
    server.wait(timeout=30)
    processes.remove(server)


def call(port, key, method, path, body=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"X-Api-Key": key, "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read() or b"null")


def arrivals():
    """{notification id: first arrival (epoch seconds)} from nginx's log."""
    seen = {}
    with open(f"{work}/arrivals.log") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) == 2 and parts[1] != "-":
                seen.setdefault(parts[1], float(parts[0]))
    return seen


def ids_by_token(port, key):
    found, before = {}, None
    while True:
        page = call(port, key, "GET", "/api/v1/notification/delivery?limit=1000" + (f"&before={before}" if before else ""))
        for delivery in page["deliveries"]:
            found[delivery["token"]] = delivery["id"]
        before = page.get("nextBefore")
        if before is None:
            return found


try:
    with open(f"{work}/nginx.conf", "w") as handle:
        handle.write(f"""worker_processes 1; daemon off; pid {work}/nginx.pid; error_log {work}/nginx.log warn;
events {{ worker_connections 4096; }}
http {{ log_format arrival '$msec $http_x_bomflow_notification_id'; access_log {work}/arrivals.log arrival;
  server {{ listen 127.0.0.1:{NGINX_PORT}; location / {{ return 200 '{{}}'; }} }} }}
""")
    processes.append(subprocess.Popen(["nginx", "-c", f"{work}/nginx.conf"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    wait_port(NGINX_PORT)
    hook = {"url": f"http://127.0.0.1:{NGINX_PORT}/hook", "groups": ["WORKFLOW_COMPLETED", "BOM_CONSUMED"]}
    one_step = {"steps": [{"step": "A"}]}

    # 1. Latency, one at a time.
    server, key = start_server(f"{work}/latency", 18502)
    call(18502, key, "POST", "/api/v1/notification/webhook", hook)
    answered = {}
    for index in range(latency_runs):
        token = TOKEN % (index + 1)
        call(18502, key, "POST", "/api/v1/workflow", {"token": token, **one_step})
        call(18502, key, "PATCH", f"/api/v1/workflow/token/{token}/step/A", {"status": "COMPLETED"})
        answered[token] = time.time()
        time.sleep(0.02)
    time.sleep(1)
    seen, ids = arrivals(), ids_by_token(18502, key)
    latencies = sorted((seen[ids[token]] - at) * 1000 for token, at in answered.items() if ids.get(token) in seen)
    stop(server)
    print(f"## Webhooks: bomflow serve (release, LMDB, sync full, 2 loops) -> nginx-light on loopback, {os.cpu_count()} cores\n")
    print(f"Latency from the completing request's answer to the arrival ({len(latencies)} of {latency_runs} arrived, one at a time): "
          f"p50 {statistics.median(latencies):.1f} ms, p99 {latencies[int(len(latencies) * 0.99) - 1]:.1f} ms, "
          f"max {latencies[-1]:.1f} ms\n")

    # 2. Throughput: a backlog queued with delivery off, then drained.
    open(f"{work}/arrivals.log", "w").close()
    os.kill(processes[0].pid, 1)  # nginx reopens its log on SIGHUP
    data = f"{work}/backlog"
    server, key = start_server(data, 18503, "--no-webhook-delivery", "--sync", "none")
    call(18503, key, "POST", "/api/v1/notification/webhook", hook)
    batch = []
    for index in range(backlog):
        token = TOKEN % (index + 1)
        call(18503, key, "POST", "/api/v1/workflow", {"token": token, **one_step})
    for start in range(0, backlog, 100):
        items = [{"token": TOKEN % (index + 1), "step": "A", "status": "COMPLETED"} for index in range(start, min(backlog, start + 100))]
        call(18503, key, "POST", "/api/v1/workflow/steps", {"updates": items})
    stop(server)
    started = time.time()
    server, key = start_server(data, 18503)
    while len(arrivals()) < backlog and time.time() - started < 300:
        time.sleep(0.2)
    seen = arrivals()
    stop(server)
    times = sorted(seen.values())
    rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0
    print(f"Throughput: a backlog of {backlog:,} deliveries drained at {rate:,.0f} deliveries/s "
          f"({len(times):,} arrived; {times[-1] - started:.1f} s from the delivering server's start to the last arrival; "
          f"--webhook-concurrency 16)\n")

    # 3. The outbox's cost on durable step updates.
    configs = [("none", []), ("webhook, delivery off", ["--no-webhook-delivery"]), ("webhook, delivery on", [])]
    servers = []
    for index, (name, extra) in enumerate(configs):
        data = f"{work}/updates{index}"
        subprocess.run([f"{bin_dir}/bomflow-store-driver", "bench", "--dir", data, "--workflows", str(workflows), "--ops", "1000"],
                       capture_output=True, text=True, check=True)
        port = 18510 + index
        server, key = start_server(data, port, *extra)
        if index > 0:
            call(port, key, "POST", "/api/v1/notification/webhook", {**hook, "groups": ["BOM_CONSUMED"]})
        servers.append((port, key))
    script = f"{work}/complete.lua"
    with open(script, "w") as handle:
        handle.write('local n = tonumber(os.getenv("WORKFLOWS")); local key = os.getenv("APIKEY"); '
                     'math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)\n'
                     f'request = function() return wrk.format("PATCH", string.format("/api/v1/workflow/token/{TOKEN}/step/BOM_CONSUMPTION", '
                     'math.random(0, n - 1)), {["X-Api-Key"] = key, ["Content-Type"] = "application/json"}, \'{"status":"COMPLETED"}\') end\n')
    def complete(port, key):
        out = subprocess.run(["wrk", "-t2", "-c64", f"-d{seconds}s", "--latency", "-s", script, f"http://127.0.0.1:{port}/"],
                             capture_output=True, text=True, check=True,
                             env={**os.environ, "WORKFLOWS": str(workflows), "APIKEY": key}).stdout
        return parse_wrk(out)

    results = alternating([lambda port=port, key=key: complete(port, key) for port, key in servers], rounds)
    base = statistics.median(r[0] for r in results[0])
    print(f"Durable step updates that each notify (PATCH BOM_CONSUMPTION COMPLETED, random among {workflows:,} BOM_UPLOAD "
          f"workflows; a repeat is an idempotent no-op), wrk -t2 -c64, {seconds} s per run, {rounds} alternating rounds:\n")
    print("| configuration | req/s (rounds) | median | vs none | p99 ms (median) | non-2xx |")
    print("|---|---|---:|---:|---:|---:|")
    for (name, _), runs in zip(configs, results):
        median = statistics.median(r[0] for r in runs)
        print(f"| {name} | {' / '.join(f'{r[0]:,.0f}' for r in runs)} | {median:,.0f} | {median / base:.2f}x | "
              f"{statistics.median(r[2] for r in runs):.2f} | {sum(r[3] for r in runs)} |")
    port, key = servers[2]
    pending = call(port, key, "GET", "/api/v1/notification/delivery?state=PENDING&limit=1000")
    print(f"\nAfter the runs, delivery on: {len(arrivals()):,} notifications arrived at nginx, "
          f"{len(pending['deliveries'])}{'+' if pending.get('nextBefore') else ''} still pending.")
finally:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    shutil.rmtree(work, ignore_errors=True)
