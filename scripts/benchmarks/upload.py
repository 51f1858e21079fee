#!/usr/bin/env python3
"""BOM upload benchmark (issue 12), one run:

1. The machine's own figures, on the same file system as the data directory: a 512 MiB
   sequential write with one fsync (MB/s), and writes of one BOM's size each followed by fsync
   (per second), for 100 KB and 5 MB.
2. `bomflow serve` (sync full, API key): uploads of a 100 KB and of a 5 MB CycloneDX JSON BOM by
   8 client processes with one keep-alive connection each, as PUT (base64 JSON) and as POST
   (multipart), each to its own auto-created project; uploads/s and MB/s of BOM bytes, p50/p99
   latency. ROUNDS alternating rounds of SECONDS each on a fresh data directory, medians.
3. Upload to COMPLETED with `serve --simulate default` (sync full): sequential uploads of the
   100 KB BOM, the token polled every 5 ms; median and p90.

With UPLOAD_BASELINE=<bin dir of another build>, part 2 runs that build too, alternating with this
one round by round, and prints B/A per row.

Usage: upload.py BIN_DIR [SECONDS] [ROUNDS]"""
import base64
import http.client
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

bin_dir = sys.argv[1]
baseline = os.environ.get("UPLOAD_BASELINE")
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 5
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
CONNECTIONS = 8
work = tempfile.mkdtemp(prefix="bomflow-upload-bench-", dir="/var/tmp")


def bom(size):
    """A CycloneDX JSON BOM of about `size` bytes: components with purls."""
    components = []
    index = 0
    text = ""
    while len(text) < size:
        components.append({"type": "library", "name": f"component-{index}", "version": f"1.{index % 50}.{index % 7}",
                           "purl": f"pkg:pypi/component-{index}@1.{index % 50}.{index % 7}"})
        index += 1
        if index % 200 == 0:
            text = json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": components})
    return json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": components}).encode()


def machine(size, duration):
    """Writes of `size` bytes each followed by fsync, for `duration` seconds: per second."""
    path = os.path.join(work, "fsync-probe")
    data = os.urandom(size)
    count = 0
    started = time.perf_counter()
    with open(path, "wb") as handle:
        while time.perf_counter() - started < duration:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            count += 1
    elapsed = time.perf_counter() - started
    os.remove(path)
    return count / elapsed


def sequential():
    path = os.path.join(work, "sequential-probe")
    block = os.urandom(1 << 20)
    started = time.perf_counter()
    with open(path, "wb") as handle:
        for _ in range(512):
            handle.write(block)
        handle.flush()
        os.fsync(handle.fileno())
    elapsed = time.perf_counter() - started
    os.remove(path)
    return 512 * (1 << 20) / elapsed / 1e6


def serve(data, extra=(), binary=None):
    server = subprocess.Popen([f"{binary or bin_dir}/bomflow", "serve", "--data-dir", data, "--port", "0", "--log-level", "warning",
                               *extra], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = int(server.stdout.readline())
    with open(os.path.join(data, "admin.key")) as handle:
        key = handle.read().strip()
    return server, port, key


def uploader(index, port, key, method, payload, duration, queue):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    if method == "PUT":
        body = json.dumps({"bom": base64.b64encode(payload).decode(), "projectName": f"bench-{index}",
                           "projectVersion": "1", "autoCreate": True}).encode()
        headers = {"X-Api-Key": key, "Content-Type": "application/json"}
    else:
        boundary = "bench-boundary-7MA4YWxk"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"projectName\"\r\n\r\nbench-{index}\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"projectVersion\"\r\n\r\n1\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"autoCreate\"\r\n\r\ntrue\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"bom\"; filename=\"bom.json\"\r\n"
                f"Content-Type: application/json\r\n\r\n").encode() + payload + f"\r\n--{boundary}--\r\n".encode()
        headers = {"X-Api-Key": key, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    latencies = []
    errors = 0
    started = time.perf_counter()
    while time.perf_counter() - started < duration:
        sent = time.perf_counter()
        connection.request(method, "/api/v1/bom", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            errors += 1
        latencies.append(time.perf_counter() - sent)
    queue.put((len(latencies), errors, latencies))


def throughput(payload, method, binary=None):
    data = os.path.join(work, "data")
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(data)
    server, port, key = serve(data, binary=binary)
    try:
        queue = multiprocessing.Queue()
        workers = [multiprocessing.Process(target=uploader, args=(i, port, key, method, payload, seconds, queue))
                   for i in range(CONNECTIONS)]
        started = time.perf_counter()
        for process in workers:
            process.start()
        results = [queue.get() for _ in workers]
        elapsed = time.perf_counter() - started
        for process in workers:
            process.join()
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(data, ignore_errors=True)
    count = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    latencies = sorted(l for r in results for l in r[2])
    rate = count / elapsed
    return rate, rate * len(payload) / 1e6, latencies[len(latencies) // 2] * 1000, \
        latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, errors


def to_completed(payload, count=30):
    data = os.path.join(work, "simulate")
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(data)
    server, port, key = serve(data, ["--simulate", "default", "--simulate-seed", "1"])
    times = []
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"X-Api-Key": key, "Content-Type": "application/json"}
        body = json.dumps({"bom": base64.b64encode(payload).decode(), "projectName": "simulated",
                           "projectVersion": "1", "autoCreate": True})
        for _ in range(count):
            started = time.perf_counter()
            connection.request("PUT", "/api/v1/bom", body=body, headers=headers)
            token = json.loads(connection.getresponse().read())["token"]
            while True:
                connection.request("GET", f"/api/v1/event/token/{token}", headers=headers)
                status = json.loads(connection.getresponse().read()).get("status")
                if status in ("COMPLETED", "FAILED"):
                    break
                time.sleep(0.005)
            times.append((time.perf_counter() - started) * 1000)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(data, ignore_errors=True)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9)]


try:
    small, large = bom(100_000), bom(5_000_000)
    print(f"## BOM uploads ({CONNECTIONS} connections, sync full, {rounds} alternating rounds of {seconds:g} s, medians)")
    print()
    print(f"BOMs: {len(small):,} bytes and {len(large):,} bytes of CycloneDX JSON; data dir on {work}")
    print()
    results = {}
    probes = {}
    for _ in range(rounds):
        probes.setdefault("sequential", []).append(sequential())
        for name, payload in (("100 KB", small), ("5 MB", large)):
            probes.setdefault(name, []).append(machine(len(payload), 2))
            for method in ("PUT", "POST"):
                if baseline:
                    results.setdefault((name, method, "A"), []).append(throughput(payload, method, baseline))
                results.setdefault((name, method, "B" if baseline else ""), []).append(throughput(payload, method))
    print("| what | uploads/s | BOM MB/s | p50 ms | p99 ms | non-200 |")
    print("|---|---|---|---|---|---|")
    medians = {}
    for (name, method, build), runs in results.items():
        columns = [statistics.median(run[i] for run in runs) for i in range(4)]
        medians[(name, method, build)] = columns
        errors = sum(run[4] for run in runs)
        label = f"{name} {method}" + (f" ({build}: {'baseline' if build == 'A' else 'this build'})" if build else "")
        print(f"| {label} | {columns[0]:,.1f} | {columns[1]:,.1f} | {columns[2]:,.1f} | {columns[3]:,.1f} | {errors} |")
    if baseline:
        print()
        for name, method, build in medians:
            if build == "B":
                ratio = medians[(name, method, "B")][0] / medians[(name, method, "A")][0]
                print(f"- {name} {method}: this build / baseline = {ratio:.2f}x uploads/s")
    print()
    print("The machine, same file system, same rounds (medians):")
    print(f"- sequential write of 512 MiB + fsync: {statistics.median(probes['sequential']):,.0f} MB/s")
    for name, payload in (("100 KB", small), ("5 MB", large)):
        rate = statistics.median(probes[name])
        print(f"- write {name} + fsync, repeated: {rate:,.1f}/s = {rate * len(payload) / 1e6:,.1f} MB/s")
    print()
    p50, p90 = to_completed(small)
    print(f"Upload (100 KB, PUT) to COMPLETED with `serve --simulate default`, 30 sequential uploads: "
          f"median {p50:,.0f} ms, p90 {p90:,.0f} ms (the profile's five steps take 340–960 ms of simulated work)")
finally:
    shutil.rmtree(work, ignore_errors=True)
