#!/usr/bin/env python3
"""Operations figures (issue: ship it) on a WORKFLOWS-workflow store of BOM_UPLOAD workflows
loaded through the store (1,000 per commit): bytes per stored workflow, `bomflow backup` time
and size, `bomflow export` and `bomflow import` throughput (sync full, --batch 1000), and
`bomflow restore`. One run; every command is the shipped CLI.

Usage: ship.py BIN_DIR [WORKFLOWS]"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

bin_dir = sys.argv[1]
workflows = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
bomflow = f"{bin_dir}/bomflow"
work = tempfile.mkdtemp(prefix="bomflow-ship-bench-")


def timed(arguments, **kwargs):
    started = time.perf_counter()
    result = subprocess.run(arguments, capture_output=True, text=True, **kwargs)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(arguments)} failed ({result.returncode}): {result.stderr[-800:]}")
    return elapsed, result


def size(path):
    return os.path.getsize(path)


try:
    data = f"{work}/data"
    load = json.loads(subprocess.run([f"{bin_dir}/bomflow-store-driver", "bench", "--dir", data, "--workflows", str(workflows), "--ops", "1000"],
                                     capture_output=True, text=True, check=True).stdout)
    print(f"## Operations figures: {workflows:,} BOM_UPLOAD workflows (5 steps each, loaded 1,000 per commit in {load['loadSeconds']} s)\n")
    print("| figure | value |")
    print("|---|---:|")
    print(f"| data.mdb after the load | {size(data + '/data.mdb'):,} bytes = {size(data + '/data.mdb') / workflows:,.0f} bytes per workflow |")
    seconds, _ = timed([bomflow, "backup", f"{work}/backup", "--data-dir", data])
    print(f"| `bomflow backup` (hot, compacting, synced) | {seconds:.2f} s, {size(work + '/backup/data.mdb'):,} bytes = {size(work + '/backup/data.mdb') / workflows:,.0f} bytes per workflow |")
    seconds, result = timed([bomflow, "export", "--data-dir", data, "-o", f"{work}/export.jsonl"])
    print(f"| `bomflow export` | {seconds:.2f} s = {workflows / seconds:,.0f} workflows/s, {size(work + '/export.jsonl'):,} bytes of JSON Lines |")
    seconds, result = timed([bomflow, "import", f"{work}/export.jsonl", "--data-dir", f"{work}/imported", "--batch", "1000"])
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["imported"] == workflows, summary
    print(f"| `bomflow import` (sync full, 1,000 per commit) | {seconds:.2f} s = {workflows / seconds:,.0f} workflows/s |")
    seconds, result = timed([bomflow, "import", f"{work}/export.jsonl", "--data-dir", f"{work}/imported", "--batch", "1000"])
    print(f"| `bomflow import` again (all unchanged) | {seconds:.2f} s = {workflows / seconds:,.0f} workflows/s |")
    seconds, _ = timed([bomflow, "restore", f"{work}/backup", "--data-dir", f"{work}/restored"])
    print(f"| `bomflow restore` (copy, open, rename) | {seconds:.2f} s |")
finally:
    shutil.rmtree(work, ignore_errors=True)
