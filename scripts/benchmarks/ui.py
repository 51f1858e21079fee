#!/usr/bin/env python3
"""The operator page on a large store (issue 14: every page well under 50 ms with 1,000,000
workflows). bomflow-store-driver loads WORKFLOWS BOM_UPLOAD workflows; over the API, FINISHED of
them then complete or fail (the overview's chart and failure list) and one workflow gets a full
history (500 events: the most a workflow keeps). Each page is then fetched REQUESTS times in a
row on one keep-alive connection with a signed-in session cookie, sync full, and the table gives
p50, p99 and max in ms (the client's clock: request written to body read).
Usage: ui.py BIN_DIR [WORKFLOWS] [REQUESTS] [FINISHED]"""
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

bin_dir = sys.argv[1]
workflows = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
requests = int(sys.argv[3]) if len(sys.argv) > 3 else 200
finished = int(sys.argv[4]) if len(sys.argv) > 4 else 3000
TOKEN = "00000001-0000-4000-8000-%012x"
work = tempfile.mkdtemp(prefix="bomflow-ui-bench-")
data = os.path.join(work, "data")
server = None
try:
    started = time.time()
    subprocess.run([f"{bin_dir}/bomflow-store-driver", "bench", "--dir", data, "--workflows", str(workflows), "--ops", "1000"],
                   capture_output=True, text=True, check=True)
    load_seconds = time.time() - started
    server = subprocess.Popen([f"{bin_dir}/bomflow", "serve", "--data-dir", data, "--port", "0", "--loops", "2",
                               "--log-level", "warning"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = int(server.stdout.readline())
    for _ in range(100):
        if os.path.exists(f"{data}/admin.key"):
            break
        time.sleep(0.05)
    key = open(f"{data}/admin.key").read().strip()
    connection = http.client.HTTPConnection("127.0.0.1", port)

    def call(method, path, body=None, headers=None):
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response, response.read()

    api = {"X-Api-Key": key, "Content-Type": "application/json"}
    # Finished workflows for the chart and the failure list: every third one fails.
    for index in range(finished):
        path = f"/api/v1/workflow/token/{TOKEN % (workflows - 1 - index)}/step/BOM_CONSUMPTION"
        body = {"status": "FAILED", "failureReason": "bench"} if index % 3 == 0 else {"status": "CANCELLED"}
        if index % 3 != 0:
            call("POST", f"/api/v1/workflow/token/{TOKEN % (workflows - 1 - index)}/cancel", json.dumps({"reason": "bench"}), api)
        else:
            call("PATCH", path, json.dumps(body), api)
    # One workflow with a full history: claims, heartbeats and progress alternate.
    busy = TOKEN % 7
    call("PATCH", f"/api/v1/workflow/token/{busy}/step/BOM_CONSUMPTION", json.dumps({"status": "COMPLETED"}), api)
    call("POST", "/api/v1/workflow/claim", json.dumps({"steps": ["BOM_PROCESSING"], "worker": "w", "leaseSeconds": 600, "max": 1}), api)
    for index in range(300):
        call("POST", f"/api/v1/workflow/token/{busy}/step/BOM_PROCESSING/heartbeat", json.dumps({"worker": "w", "leaseSeconds": 600 + index}), api)
        call("POST", f"/api/v1/workflow/token/{busy}/step/BOM_PROCESSING/progress", json.dumps({"worker": "w", "completed": 1}), api)
    _, history = call("GET", f"/api/v1/workflow/token/{busy}/events?limit=500", headers=api)
    events = len(json.loads(history)["events"])

    # Sign in as a browser does.
    response, page = call("GET", "/ui/signin")
    csrf_cookie = re.search(r"bomflow_csrf=([0-9a-f]+)", response.getheader("Set-Cookie")).group(1)
    form = urllib.parse.urlencode({"key": key, "csrf": csrf_cookie})
    response, _ = call("POST", "/ui/signin", form, {"Cookie": f"bomflow_csrf={csrf_cookie}",
                                                    "Content-Type": "application/x-www-form-urlencoded"})
    session = re.search(r"bomflow_session=([0-9a-f]+)", response.getheader("Set-Cookie")).group(1)
    cookie = {"Cookie": f"bomflow_session={session}"}
    pages = [
        ("overview", "/ui"),
        ("workflow list (newest 50)", "/ui/workflows"),
        ("list, state=processing", "/ui/workflows?state=processing"),
        ("list, template filter (no match: reads 1,000)", "/ui/workflows?template=NONE"),
        ("list, next page (cursor deep in the store)", f"/ui/workflows?cursor={workflows // 2}"),
        (f"workflow detail ({events} events)", f"/ui/workflow/{busy}"),
        ("workflow detail (new workflow)", f"/ui/workflow/{TOKEN % 12345}"),
    ]
    print(f"## Operator page: {workflows:,} workflows (loaded in {load_seconds:.0f} s), {finished:,} finished by the API, "
          f"{requests} sequential requests per page, one keep-alive connection, sync full\n")
    print("| page | bytes | p50 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    for name, path in pages:
        times = []
        size = 0
        for _ in range(requests):
            begin = time.perf_counter()
            response, body = call("GET", path, headers=cookie)
            times.append((time.perf_counter() - begin) * 1000)
            if response.status != 200:
                raise SystemExit(f"{path}: {response.status} {body[:200]!r}")
            size = len(body)
        times.sort()
        print(f"| {name} | {size:,} | {statistics.median(times):.2f} | {times[int(len(times) * 0.99) - 1]:.2f} | {times[-1]:.2f} |")
finally:
    if server:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    shutil.rmtree(work, ignore_errors=True)
