#!/usr/bin/env python3
"""A/B of two builds of bomflow serve on the API's hot paths, in one run (issue: structure; the
performance rules: side by side, alternating rounds, medians, ratios).

Each build serves its own copy of a store of WORKFLOWS BOM_UPLOAD workflows (loaded by its own
bomflow-store-driver), sync full, with an API key; wrk runs the DT poll (-t2 -c64, then -t1 -c1),
durable step updates and durable creates (each -t2 -c64) against A, then B, ROUNDS times,
alternating; the table gives each round, the medians and B/A.
Usage: ab.py BIN_DIR_A BIN_DIR_B [WORKFLOWS] [SECONDS] [ROUNDS]"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import parse_wrk, wait_port, write_script  # noqa: E402

bins = sys.argv[1:3]
workflows = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
seconds = int(sys.argv[4]) if len(sys.argv) > 4 else 10
rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 3
TOKEN = "00000001-0000-4000-8000-%012x"
ports = [18401, 18402]
work = tempfile.mkdtemp(prefix="bomflow-ab-")
servers = []


def lua(name, body):
    return write_script(work, name, body)


common = 'local n = tonumber(os.getenv("WORKFLOWS")); local key = os.getenv("APIKEY"); math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)\n'
scripts = {
    "poll": lua("poll.lua", common + f'request = function() return wrk.format("GET", string.format("/api/v1/event/token/{TOKEN}", math.random(0, n - 1)), {{["X-Api-Key"] = key}}) end\n'),
    "update": lua("update.lua", common + f'request = function() return wrk.format("PATCH", string.format("/api/v1/workflow/token/{TOKEN}/step/BOM_CONSUMPTION", math.random(0, n - 1)), {{["X-Api-Key"] = key, ["Content-Type"] = "application/json"}}, \'{{"started":true}}\') end\n'),
    "create": lua("create.lua", common + 'request = function() return wrk.format("POST", "/api/v1/workflow", {["X-Api-Key"] = key, ["Content-Type"] = "application/json"}, \'{"template":"BOM_UPLOAD"}\') end\n'),
}
try:
    keys = []
    for index, bin_dir in enumerate(bins):
        data = os.path.join(work, f"data{index}")
        subprocess.run([f"{bin_dir}/bomflow-store-driver", "bench", "--dir", data, "--workflows", str(workflows), "--ops", "1000"],
                       capture_output=True, text=True, check=True)
        server = subprocess.Popen([f"{bin_dir}/bomflow", "serve", "--data-dir", data, "--port", str(ports[index]), "--loops", "2",
                                   "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        servers.append(server)
        wait_port(ports[index])
        for _ in range(100):
            if os.path.exists(f"{data}/admin.key"):
                break
            time.sleep(0.05)
        keys.append(open(f"{data}/admin.key").read().strip())
    # (name, script, wrk threads, connections)
    runs = [("poll", scripts["poll"], 2, 64), ("poll -c1", scripts["poll"], 1, 1),
            ("update", scripts["update"], 2, 64), ("create", scripts["create"], 2, 64)]
    results = {name: ([], []) for name, _, _, _ in runs}
    for round_ in range(rounds):
        for name, script, threads, connections in runs:
            for index in (0, 1) if round_ % 2 == 0 else (1, 0):
                out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, f"http://127.0.0.1:{ports[index]}/"],
                                     capture_output=True, text=True, check=True,
                                     env={**os.environ, "WORKFLOWS": str(workflows), "APIKEY": keys[index]}).stdout
                results[name][index].append(parse_wrk(out))
    print(f"## A/B: {workflows:,} workflows, wrk -t2 -c64 (poll -c1: -t1 -c1), {seconds} s per run, {rounds} alternating rounds\n")
    print(f"A = {bins[0]}\n\nB = {bins[1]}\n")
    print("| operation | A req/s (rounds) | B req/s (rounds) | A median | B median | B/A | A p99 ms (median) | B p99 ms (median) | non-2xx A/B |")
    print("|---|---|---|---:|---:|---:|---:|---:|---|")
    for name, (a, b) in results.items():
        ma, mb = statistics.median(r[0] for r in a), statistics.median(r[0] for r in b)
        print(f"| {name} | {' / '.join(f'{r[0]:,.0f}' for r in a)} | {' / '.join(f'{r[0]:,.0f}' for r in b)} | {ma:,.0f} | {mb:,.0f} | "
              f"{mb / ma:.2f}x | {statistics.median(r[2] for r in a):.2f} | {statistics.median(r[2] for r in b):.2f} | "
              f"{sum(r[3] for r in a)}/{sum(r[3] for r in b)} |")
finally:
    for server in servers:
        server.terminate()
    for server in servers:
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    shutil.rmtree(work, ignore_errors=True)
