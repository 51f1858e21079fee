#!/usr/bin/env python3
"""Store-level benchmark (issue: workflow state engine): bomflow's LMDBStore next to raw
liblmdb doing the same shapes, in one run, with ratios; then the key-layout experiment behind
docs/STORAGE.md. Invoked by scripts/bench; prints a Markdown table."""
import json
import os
import re
import subprocess
import sys
import tempfile

driver, raw, workflows, ops = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
layout_workflows = int(os.environ.get("LAYOUT_WORKFLOWS", "200000"))


def run(command):
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip().splitlines()
    return json.loads(out[-1])


with tempfile.TemporaryDirectory(prefix="bomflow-bench-") as base:
    # Same machine, same run, alternating: raw first, then the store.
    raw_result = run([raw, "bench", f"{base}/raw", str(workflows), str(ops)])
    store_result = run([driver, "bench", "--dir", f"{base}/store", "--workflows", str(workflows), "--ops", str(ops), "--sync", "full"])
    print(f"## Store operations, {workflows:,} BOM_UPLOAD workflows, single thread, sync full\n")
    print("| operation | bomflow store (ops/s) | raw liblmdb (ops/s) | ratio |")
    print("|---|---:|---:|---:|")
    for key, label in [("isProcessing", "isProcessing (poll)"), ("getWorkflow", "get workflow"),
                       ("durableUpdate", "durable single-step update (1 commit + fdatasync each)"),
                       ("groupedUpdate64", "step updates grouped 64 per commit")]:
        mine, theirs = store_result[key], raw_result[key]
        print(f"| {label} | {mine:,} | {theirs:,} | {mine / theirs:.2f}x |")
    print(f"\nload: store {store_result['loadSeconds']} s (1,000 creates per commit, with all indexes), raw {raw_result['loadSeconds']} s; "
          f"store data.mdb {store_result['dataBytes'] / workflows:.0f} bytes per workflow\n")

    # Layout: bytes LMDB writes per phase, counted from strace between the program's markers.
    trace = f"{base}/layout.trace"
    os.makedirs(f"{base}/layout")
    layout = subprocess.run(["strace", "-f", "-e", "trace=pwrite64,pwritev,write,fdatasync", "-o", trace, raw, "layout", f"{base}/layout", str(layout_workflows)],
                            check=True, capture_output=True, text=True).stdout.strip().splitlines()
    used = {json.loads(line)["layout"]: json.loads(line)["mapUsedBytes"] for line in layout}
    phases, phase = {}, None
    for line in open(trace):
        marker = re.search(r'write\(2, "MARK ([^\\"]*)\\n"', line)
        if marker:
            phase = marker.group(1)
            phases.setdefault(phase, 0)
            continue
        written = re.search(r"(pwrite64|pwritev)\(.*\) = (\d+)", line)
        if phase and phase != "end" and written:
            phases[phase] += int(written.group(2))
    commits = {"single-create": 1000, "grouped-create": 50, "grouped-update": 50}
    print(f"## Key layout: steps keyed by sequential workflow id vs by random token ({layout_workflows:,} workflows loaded)\n")
    print("| durable commit | by id: bytes written | by token: bytes written | ratio |")
    print("|---|---:|---:|---:|")
    for name, count in commits.items():
        by_id, by_token = phases[f"by-id {name}"] / count, phases[f"by-token {name}"] / count
        label = {"single-create": "one create", "grouped-create": "64 creates", "grouped-update": "64 updates of the 2,000 newest"}[name]
        print(f"| {label} | {by_id:,.0f} | {by_token:,.0f} | {by_id / by_token:.2f}x |")
    print(f"| file size after the load | {used['by-id']:,} | {used['by-token']:,} | {used['by-id'] / used['by-token']:.2f}x |")
