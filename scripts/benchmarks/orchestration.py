#!/usr/bin/env python3
"""Orchestration benchmark (issue: orchestration), one run:

1. Throughput: two `bomflow serve` processes on one data directory and one port (SO_REUSEPORT,
   sync full, API key), WORKFLOWS BOM_UPLOAD workflows (5 chained steps each), 4 worker
   processes (Python, one keep-alive connection each) that claim up to 16 ready steps per
   request and complete each with a PATCH naming the worker. Reports completed steps per second
   (each step = one claim + one completion) and the requests behind them.
2. Wake-up latency across processes: the two servers on two ports (same data directory). A claim
   waits in process A for a step kind nobody else uses; process B creates a workflow with that
   step. And a watch (?wait&since) waits in A while B changes the workflow. Latency = from just
   before B is sent the change to A's answer (so it includes B's durable commit). ROUNDS each.

Usage: orchestration.py BIN_DIR [WORKFLOWS] [ROUNDS]"""
import http.client
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

bin_dir = sys.argv[1]
workflows = int(sys.argv[2]) if len(sys.argv) > 2 else 4000
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 200
STEPS = ["BOM_CONSUMPTION", "BOM_PROCESSING", "VULN_ANALYSIS", "POLICY_EVALUATION", "METRICS_UPDATE"]
work = tempfile.mkdtemp(prefix="bomflow-orchestration-bench-")
processes = []


def serve(data, port):
    server = subprocess.Popen([f"{bin_dir}/bomflow", "serve", "--data-dir", data, "--port", str(port), "--log-level", "warning"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    processes.append(server)
    bound = int(server.stdout.readline())
    return bound


class Client:
    def __init__(self, port, key):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"X-Api-Key": key, "Content-Type": "application/json"}

    def call(self, method, path, body=None):
        self.connection.request(method, path, body=None if body is None else json.dumps(body), headers=self.headers)
        response = self.connection.getresponse()
        data = response.read()
        return response.status, (json.loads(data) if data else None)


def worker(index, port, key, results):
    client = Client(port, key)
    completed = claims = patches = 0
    idle = 0
    while idle < 3:
        status, body = client.call("POST", "/api/v1/workflow/claim",
                                   {"steps": STEPS, "worker": f"bench-{index}", "leaseSeconds": 60, "max": 16, "waitSeconds": 0.5})
        claims += 1
        taken = body["claims"] if status == 200 else []
        if not taken:
            idle += 1
            continue
        idle = 0
        for claim in taken:
            status, _ = client.call("PATCH", f"/api/v1/workflow/token/{claim['token']}/step/{claim['step']}",
                                    {"status": "COMPLETED", "worker": f"bench-{index}"})
            patches += 1
            if status == 200:
                completed += 1
    results.put((completed, claims, patches))


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


try:
    # --- 1. throughput: two processes, one port.
    data = f"{work}/data"
    port = serve(data, 0)
    serve(data, port)
    key = open(f"{data}/admin.key").read().strip()
    loader = Client(port, key)
    for number in range(workflows):
        loader.call("POST", "/api/v1/workflow", {"token": "0000beef-0000-4000-8000-%012x" % number, "template": "BOM_UPLOAD"})
    results = multiprocessing.Queue()
    started = time.perf_counter()
    workers = [multiprocessing.Process(target=worker, args=(index, port, key, results)) for index in range(4)]
    for process in workers:
        process.start()
    totals = [results.get() for _ in workers]
    for process in workers:
        process.join()
    # The last 3 idle claims of each worker waited 0.5 s each: not part of the work.
    elapsed = time.perf_counter() - started - 1.5
    completed = sum(t[0] for t in totals)
    claim_requests = sum(t[1] for t in totals)
    expected = workflows * len(STEPS)
    print(f"## Orchestration: 2 server processes (one data dir, one port, sync full, API key), 4 worker processes\n")
    print("| figure | value |")
    print("|---|---:|")
    print(f"| steps completed (each claimed once, then PATCH COMPLETED) | {completed:,} of {expected:,} |")
    print(f"| claims + completions per second (steps/s) | {completed / elapsed:,.0f} |")
    print(f"| requests per second (claim requests {claim_requests:,} + completions {completed:,}) | {(claim_requests + completed) / elapsed:,.0f} |")
    for process in processes:
        process.terminate()
        process.wait(timeout=20)
    processes.clear()

    # --- 2. wake-up latency across processes: A and B on their own ports.
    data = f"{work}/latency"
    port_a = serve(data, 0)
    port_b = serve(data, 0)
    key = open(f"{data}/admin.key").read().strip()
    a, b = Client(port_a, key), Client(port_b, key)
    claim_latencies, watch_latencies = [], []
    for number in range(rounds):
        token = "0000cafe-0000-4000-8000-%012x" % number
        outcome = {}

        def wait_for_claim():
            status, body = Client(port_a, key).call("POST", "/api/v1/workflow/claim",
                                                    {"steps": ["PROBE"], "worker": "probe", "leaseSeconds": 60, "waitSeconds": 10})
            outcome["at"] = time.perf_counter()
            outcome["claims"] = body["claims"] if status == 200 else []

        waiter = threading.Thread(target=wait_for_claim)
        waiter.start()
        time.sleep(0.05)
        sent = time.perf_counter()
        b.call("POST", "/api/v1/workflow", {"token": token, "steps": [{"step": "PROBE"}, {"step": "NEXT", "parent": "PROBE"}]})
        waiter.join()
        assert outcome["claims"] and outcome["claims"][0]["token"] == token, outcome
        claim_latencies.append((outcome["at"] - sent) * 1000)

        _, current = a.call("GET", f"/api/v1/workflow/token/{token}")
        watched = {}

        def wait_for_change():
            status, body = Client(port_a, key).call("GET", f"/api/v1/workflow/token/{token}?wait=10&since={current['version']}")
            watched["at"] = time.perf_counter()
            watched["version"] = body["version"]

        waiter = threading.Thread(target=wait_for_change)
        waiter.start()
        time.sleep(0.05)
        sent = time.perf_counter()
        b.call("PATCH", f"/api/v1/workflow/token/{token}/step/PROBE", {"status": "COMPLETED", "worker": "probe"})
        waiter.join()
        assert watched["version"] > current["version"], watched
        watch_latencies.append((watched["at"] - sent) * 1000)
    print()
    print(f"## Wake-up latency across processes ({rounds} rounds each; from just before process B is sent the change to process A's answer)\n")
    print("| waiter in process A | change in process B | p50 ms | p99 ms | max ms |")
    print("|---|---|---:|---:|---:|")
    print(f"| claim with waitSeconds | create a workflow with that step | {statistics.median(claim_latencies):.1f} | "
          f"{percentile(claim_latencies, 0.99):.1f} | {max(claim_latencies):.1f} |")
    print(f"| watch (?wait&since) | PATCH a step | {statistics.median(watch_latencies):.1f} | "
          f"{percentile(watch_latencies, 0.99):.1f} | {max(watch_latencies):.1f} |")
finally:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    shutil.rmtree(work, ignore_errors=True)
