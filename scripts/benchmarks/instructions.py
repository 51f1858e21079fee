#!/usr/bin/env python3
"""User-space instructions per request, counted by valgrind's callgrind: a measure this noisy
machine cannot blur (two runs of the same build agree within 0.1 %, where req/s of alternating
wrk rounds differ by 10 %), for deciding whether a change to the request path pays.

Each server runs under callgrind with counting switched off until a warm-up has passed; then wrk
-t1 -c4 sends requests for SECONDS and the instructions of every server thread are divided by
the requests answered. Measured: bomflow serve answering the DT poll on a store of WORKFLOWS
workflows (sync full, API key), and the HTTP layer alone (bomflow-http-fixture) answering its
fixed 20-byte response and the poll's own request (same path and headers). With a baseline bin
dir (AB_BASELINE), its bomflow answers the same poll and the ratio is shown. Kernel time (the
read, the send, epoll) is not counted: it is the same for both sides of each comparison.

Valgrind 3.19 cannot read the DWARF 5 of Swift's debug info, so the binaries are copied without
it (`strip --strip-debug`); the map size is 2 GiB because valgrind cannot reserve 64 GiB.
Usage: instructions.py BIN_DIR [WORKFLOWS] [SECONDS] [BASELINE_BIN_DIR]"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import wait_port, write_script  # noqa: E402

bin_dir = sys.argv[1]
workflows = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 10
baseline = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] else None
TOKEN = "00000001-0000-4000-8000-%012x"
PORT = 18451
work = tempfile.mkdtemp(prefix="bomflow-instructions-")

if not shutil.which("valgrind"):
    subprocess.run(["apt-get", "install", "-y", "-qq", "valgrind"], check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def lua(name, body):
    return write_script(work, name, body)


poll = lua("poll.lua", 'local n = tonumber(os.getenv("WORKFLOWS")); local key = os.getenv("APIKEY")\n'
           f'request = function() return wrk.format("GET", string.format("/api/v1/event/token/{TOKEN}", math.random(0, n - 1)), '
           '{["X-Api-Key"] = key}) end\n')


def stripped(binary, name):
    copy = os.path.join(work, name)
    subprocess.run(["strip", "--strip-debug", "-o", copy, binary], check=True)
    return copy


def counted(command, key, target, label):
    """Instructions per request of `command` (a server on PORT) under wrk -t1 -c4."""
    out = os.path.join(work, f"{label}.callgrind")
    server = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--instr-atstart=no"]
                              + command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(PORT)
        env = {**os.environ, "WORKFLOWS": str(workflows), "APIKEY": key() if callable(key) else key}
        wrk = ["wrk", "-t1", "-c4"] + target
        subprocess.run(wrk[:3] + ["-d2s"] + wrk[3:], check=True, capture_output=True, env=env)
        subprocess.run(["callgrind_control", "-i", "on", str(server.pid)], check=True, capture_output=True)
        result = subprocess.run(wrk[:3] + [f"-d{seconds}s"] + wrk[3:], check=True, capture_output=True, text=True,
                                env=env).stdout
        subprocess.run(["callgrind_control", "-i", "off", str(server.pid)], check=True, capture_output=True)
    finally:
        server.terminate()
        server.wait(timeout=60)
    requests = int(re.search(r"(\d+) requests in", result).group(1))
    if re.search(r"Non-2xx or 3xx responses: (\d+)", result):
        raise SystemExit(f"{label}: some answers were not 2xx:\n{result}")
    total = 0
    for name in os.listdir(work):
        if name.startswith(f"{label}.callgrind"):
            with open(os.path.join(work, name)) as handle:
                total += sum(int(line.split()[1]) for line in handle if line.startswith("totals:"))
    return total / requests, requests


def bomflow(directory, label):
    data = os.path.join(work, f"data-{label}")
    subprocess.run([f"{directory}/bomflow-store-driver", "bench", "--dir", data, "--map-size", str(2 << 30), "--sync", "none",
                    "--workflows", str(workflows), "--ops", "1000"], check=True, capture_output=True)
    binary = stripped(f"{directory}/bomflow", f"bomflow-{label}")

    def key():
        for _ in range(200):
            if os.path.exists(f"{data}/admin.key"):
                return open(f"{data}/admin.key").read().strip()
            time.sleep(0.05)
        raise SystemExit("no admin.key")
    result = counted([binary, "serve", "--data-dir", data, "--port", str(PORT), "--loops", "2", "--map-size", "2GiB",
                      "--step-timeout", "1000h", "--log-level", "warning"], key, ["-s", poll, f"http://127.0.0.1:{PORT}/"], label)
    shutil.rmtree(data)
    return result


try:
    fixture = stripped(f"{bin_dir}/bomflow-http-fixture", "fixture")
    fixture_command = [fixture, "--port", str(PORT), "--loops", "2"]
    rows = [
        ("HTTP layer, fixed response (`GET /fixed`, Host only)",
         counted(fixture_command, "-", [f"http://127.0.0.1:{PORT}/fixed"], "fixed")),
        ("HTTP layer, the poll's request (same path, Host and X-Api-Key; answers the fixed body)",
         counted(fixture_command, "bomflow_" + "0" * 64, ["-s", poll, f"http://127.0.0.1:{PORT}/"], "fixture-poll")),
        ("bomflow serve, DT poll (`GET /api/v1/event/token/{uuid}`)", bomflow(bin_dir, "poll")),
    ]
    if baseline:
        rows.append((f"baseline {baseline}, DT poll", bomflow(baseline, "baseline")))
    print(f"## Instructions per request (callgrind, user space, all threads), {workflows:,} workflows, "
          f"wrk -t1 -c4, {seconds} s\n")
    print("| server | requests counted | instructions per request | vs the fixed response |")
    print("|---|---:|---:|---:|")
    fixed = rows[0][1][0]
    for name, (per_request, requests) in rows:
        print(f"| {name} | {requests:,} | {per_request:,.0f} | {per_request / fixed:.2f}x |")
    if baseline:
        print(f"\nThis build's poll / the baseline's: {rows[2][1][0] / rows[3][1][0]:.3f}")
finally:
    shutil.rmtree(work, ignore_errors=True)
