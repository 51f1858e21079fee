#!/usr/bin/env python3
"""API benchmark (issue: bomflow serve): the Dependency-Track poll and the durable write paths of
`bomflow serve` over HTTP, next to nginx-light's fixed response (the machine's HTTP ceiling) and
next to PostgreSQL 15 answering the same questions with the Hyades WORKFLOW_STATE schema
(pgbench, same concurrency, synchronous_commit=on), in one run.

Both stores hold the same WORKFLOWS BOM_UPLOAD workflows (token i = 00000001-0000-4000-8000-%012x).
Also the limit of the durable update on this design: raw liblmdb (scripts/benchmarks/raw-lmdb.c
`updates`) writing the same B-trees per update as format 9 (token lookup, workflow record and step
row in `steps`, event), 32 updates per durable commit (the mean group at 64 connections), with
LMDB's synchronous meta page write (on the page cache as its load left it, and read back a page at
a time: `recached`), with MDB_NOMETASYNC (without), with the record in a `workflows` tree of its
own as format 8 had it, and moving the deadline entry as format 7 did; and two bounds of designs
bomflow does not have: `wal` (the same updates applied with MDB_NOSYNC, made durable by one
sequential log append and one fdatasync per commit, checkpointed every second with the snapshot
pinned: the write-ahead-log design's cost, without its recovery) and `nosync` (no durability at
all: the CPU and page-cache ceiling of LMDB itself).
The poll, the durable update and the create run ROUNDS alternating rounds (bomflow, nginx,
PostgreSQL in turn; the order reversed every other round) and report the run with the median rate
(an update marks its step started again, rewriting it as the first did: every round does the same
work); the cascade changes what the next round would find (a failed workflow), so it runs once.
The durable update is measured three times: on the page cache as the bulk load left the data file, then
with bomflow serve restarted on the file dropped from the page cache and read back a page at a
time (common.recache: on Linux 6.16+ ext4 the load's multi-page writes leave large folios, and
every later single-page write into one costs the kernel work per page of the folio); how the
file's pages sit in folios is printed for both. Raw liblmdb runs the same two states. The third:
bomflow serve restarted with --sync none (no fsync at all), the server's own ceiling for the same
requests when durability costs nothing, against PostgreSQL in the same alternating rounds.
The server is SERVE_BIN when given (scripts/bench passes the static dist/bomflow, the binary users
run: measured 1.06x the dynamically linked build's poll at 64 connections), else BIN_DIR/bomflow.
The poll's rounds also run FIXTURE_BIN when given: our own HTTP layer serving the same body
fixed (bomflow-http-fixture's /fixed, linked like SERVE_BIN; and the same fixture sent the poll's
own request, target and API key header included, which it answers with that body), so that what the API adds on top of
the HTTP layer is measured in the same run. And the control of the p99 at 64 connections: calibration runs measure the
user CPU time per poll of bomflow serve and of the layer answering the poll's request (/proc/PID/stat; the second of
two runs each, the first maps the store into the server); a second fixture spends the difference (the API's own CPU per poll) as a busy loop on its loop's thread
(--poll-cpu-ns) and runs in the same alternating rounds: if its p99 matches the poll's, the p99 follows from the
API's CPU time per request on these two shared cores, not from anything else the API does.
Usage: api.py BIN_DIR [WORKFLOWS] [SECONDS] [RAW_LMDB] [ROUNDS] [SERVE_BIN] [FIXTURE_BIN]"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import alternating, folio_census, parse_wrk, recache, wait_port, write_script  # noqa: E402

bin_dir = sys.argv[1]
workflows = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 10
raw_lmdb = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] else None
rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 3
serve_bin = sys.argv[6] if len(sys.argv) > 6 and sys.argv[6] else f"{bin_dir}/bomflow"
fixture_bin = sys.argv[7] if len(sys.argv) > 7 and sys.argv[7] else None
BOMFLOW_PORT, NGINX_PORT, PG_PORT, FIXTURE_PORT, SPIN_PORT = 18391, 18392, 15432, 18393, 18394
TOKEN = "00000001-0000-4000-8000-%012x"
work = tempfile.mkdtemp(prefix="bomflow-api-bench-")
processes = []


def block_device(path):
    """The name of the whole disk that holds PATH (e.g. "vda"), for /sys/block/NAME/stat; "" if unknown."""
    device = os.stat(path).st_dev
    node = os.path.realpath(f"/sys/dev/block/{os.major(device)}:{os.minor(device)}")
    if os.path.exists(os.path.join(node, "partition")):
        node = os.path.dirname(node)
    return os.path.basename(node) if os.path.exists(os.path.join("/sys/block", os.path.basename(node), "stat")) else ""


def sectors_written(disk):
    """Sectors the whole disk DISK has written so far (/sys/block/DISK/stat's seventh field); 0 if unknown."""
    try:
        return int(open(f"/sys/block/{disk}/stat").read().split()[6]) if disk else 0
    except OSError:
        return 0


def with_disk(run):
    """`run()`'s result (rate first) with the bytes the data's disk wrote per operation during it appended
    (0 when the disk is unknown): writes that reach the disk within the run, whoever made them."""
    before = sectors_written(DISK)
    result = run()
    return result + ((sectors_written(DISK) - before) * 512 / (result[0] * seconds) if DISK and result[0] else 0,)


def disk_bytes(line):
    """", the disk wrote N KiB per update" from a raw-lmdb JSON line that measured it."""
    found = re.search(r'"diskBytesPerUpdate":(-?\d+)', line)
    return f", disk {int(found.group(1)) / 1024:.1f} KiB/update" if found and int(found.group(1)) > 0 else ""


DISK = block_device(work)


def lua(name, body):
    return write_script(work, name, body)


def wrk(port, script, threads, connections):
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, f"http://127.0.0.1:{port}/"],
                         capture_output=True, text=True, check=True, env={**os.environ, "WORKFLOWS": str(workflows), "APIKEY": api_key}).stdout
    return parse_wrk(out)


def pgbench(script, clients, threads):
    out = subprocess.run(["runuser", "-u", "postgres", "--", "pgbench", "-n", "-M", "prepared", "-h", "127.0.0.1", "-p", str(PG_PORT),
                          "-c", str(clients), "-j", str(threads), "-T", str(seconds), "-f", script, "-r", "bench"],
                         capture_output=True, text=True, cwd="/tmp")
    if out.returncode != 0:
        raise SystemExit(f"pgbench {script} failed: {out.stderr.strip()[-800:]}")
    out = out.stdout
    tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", out).group(1))
    latency = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", out)
    return tps, latency, int(failed.group(1)) if failed else 0


def user_seconds(pid):
    """User CPU seconds of process `pid` so far (/proc/PID/stat's utime)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) / os.sysconf("SC_CLK_TCK")


def user_ns_per_request(pid, port, script):
    """One wrk -t2 -c64 run against `port`: the user CPU time of `pid` per answered request, in ns."""
    before = user_seconds(pid)
    rate = wrk(port, script, 2, 64)[0]
    return (user_seconds(pid) - before) * 1e9 / (rate * seconds)


def median_runs(runs):
    """`runs` in alternating rounds (common.alternating); the run with the median rate of each, and
    every run's result (wrk's: rate, p50, p99, non-2xx; pgbench's: tps, latency, failed)."""
    results = alternating(runs, rounds)
    medians = [sorted(r, key=lambda run: run[0])[len(r) // 2] for r in results]
    return medians, results


def sql(name, body):
    path = os.path.join(work, name)
    with open(path, "w") as handle:
        handle.write(body)
    os.chmod(path, 0o644)
    return path


try:
    os.chmod(work, 0o755)
    # --- bomflow: load through the store (1,000 creates per commit), then serve it.
    data = os.path.join(work, "data")
    load = subprocess.run([f"{bin_dir}/bomflow-store-driver", "bench", "--dir", data, "--workflows", str(workflows), "--ops", "1000"],
                          capture_output=True, text=True, check=True).stdout

    def start_serve(sync="full"):
        started = subprocess.Popen([serve_bin, "serve", "--data-dir", data, "--port", str(BOMFLOW_PORT), "--loops", "2",
                                    "--sync", sync, "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(started)
        wait_port(BOMFLOW_PORT)
        return started

    def census():
        found = folio_census(server.pid, "data.mdb")
        if found is None:
            return "not readable (needs root)"
        return f"{found[0]:,} pages in single-page folios, {found[1]:,} in larger ones (the largest {found[2]} pages)"

    server = start_serve()
    for _ in range(100):
        if os.path.exists(f"{data}/admin.key"):
            break
        time.sleep(0.05)
    api_key = open(f"{data}/admin.key").read().strip()
    # --- nginx-light: the same {"processing":false} body, fixed.
    with open(f"{work}/nginx.conf", "w") as handle:
        handle.write(f"""worker_processes 2; daemon off; pid {work}/nginx.pid; error_log {work}/nginx.log warn;
events {{ worker_connections 4096; }}
http {{ access_log off; keepalive_requests 1000000;
  server {{ listen 127.0.0.1:{NGINX_PORT} reuseport; location / {{ default_type application/json; return 200 '{{"processing":false}}'; }} }} }}
""")
    processes.append(subprocess.Popen(["nginx", "-c", f"{work}/nginx.conf"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    wait_port(NGINX_PORT)
    # --- our own HTTP layer alone: the same body, fixed.
    if fixture_bin:
        fixture = subprocess.Popen([fixture_bin, "--port", str(FIXTURE_PORT), "--loops", "2"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(fixture)
        wait_port(FIXTURE_PORT)
    # --- PostgreSQL 15, private cluster on loopback, Hyades schema, same rows.
    pg_bin = sorted(d for d in os.listdir("/usr/lib/postgresql"))[-1]
    pg_bin = f"/usr/lib/postgresql/{pg_bin}/bin"
    pg_data = os.path.join(work, "pg")
    os.makedirs(pg_data)
    shutil.chown(pg_data, "postgres", "postgres")
    subprocess.run(["runuser", "-u", "postgres", "--", f"{pg_bin}/initdb", "-D", pg_data, "-A", "trust", "-U", "postgres"], check=True, capture_output=True)
    subprocess.run(["runuser", "-u", "postgres", "--", f"{pg_bin}/pg_ctl", "-D", pg_data, "-l", f"{pg_data}/log", "-w", "start", "-o",
                    f"-p {PG_PORT} -k {pg_data} -c listen_addresses=127.0.0.1 -c synchronous_commit=on -c fsync=on -c max_connections=200 -c shared_buffers=1GB"],
                   check=True, capture_output=True)
    psql = ["runuser", "-u", "postgres", "--", "psql", "-q", "-h", "127.0.0.1", "-p", str(PG_PORT), "-v", "ON_ERROR_STOP=1"]
    subprocess.run(psql + ["-d", "postgres", "-c", "CREATE DATABASE bench"], check=True, capture_output=True)
    subprocess.run(psql + ["-d", "bench", "-c", """
        CREATE TABLE "WORKFLOW_STATE" ("ID" BIGSERIAL PRIMARY KEY, "PARENT_STEP_ID" BIGINT, "TOKEN" VARCHAR(36) NOT NULL,
          "STARTED_AT" TIMESTAMPTZ, "UPDATED_AT" TIMESTAMPTZ NOT NULL, "STEP" VARCHAR(64) NOT NULL, "STATUS" VARCHAR(64) NOT NULL,
          "FAILURE_REASON" TEXT);"""], check=True, capture_output=True)
    steps = ["BOM_CONSUMPTION", "BOM_PROCESSING", "VULN_ANALYSIS", "POLICY_EVALUATION", "METRICS_UPDATE"]
    copy = subprocess.Popen(psql + ["-d", "bench", "-c", '\\copy "WORKFLOW_STATE" ("ID","PARENT_STEP_ID","TOKEN","UPDATED_AT","STEP","STATUS") FROM STDIN CSV'],
                            stdin=subprocess.PIPE, text=True)
    chunk = []
    for i in range(workflows):
        token = TOKEN % i
        for s, step in enumerate(steps):
            row = 5 * i + s + 1
            chunk.append(f"{row},{row - 1 if s else ''},{token},2026-11-29 00:00:00+00,{step},PENDING\n")
        if len(chunk) > 50_000:
            copy.stdin.write("".join(chunk))
            chunk = []
    copy.stdin.write("".join(chunk))
    copy.stdin.close()
    if copy.wait() != 0:
        raise SystemExit("COPY failed")
    subprocess.run(psql + ["-d", "bench", "-c", f"""
        SELECT setval(pg_get_serial_sequence('"WORKFLOW_STATE"', 'ID'), {5 * workflows});
        ALTER TABLE "WORKFLOW_STATE" ADD CONSTRAINT "WORKFLOW_STATE_TOKEN_STEP_IDX" UNIQUE ("TOKEN", "STEP");
        ALTER TABLE "WORKFLOW_STATE" ADD CONSTRAINT "WORKFLOW_STATE_PARENT_FK" FOREIGN KEY ("PARENT_STEP_ID") REFERENCES "WORKFLOW_STATE" ("ID") ON DELETE CASCADE;
        CREATE INDEX "WORKFLOW_STATE_PARENT_IDX" ON "WORKFLOW_STATE" ("PARENT_STEP_ID");
        CREATE SEQUENCE cascade_seq START 0 MINVALUE 0;"""], check=True, capture_output=True)
    subprocess.run(psql + ["-d", "bench", "-c", 'VACUUM ANALYZE "WORKFLOW_STATE"'], check=True, capture_output=True)
    token_sql = "'00000001-0000-4000-8000-' || lpad(to_hex((:i)::bigint), 12, '0')"
    pg_poll = sql("poll.sql", f"""\\set i random(0, {workflows - 1})
SELECT COUNT(*) FROM "WORKFLOW_STATE" WHERE "TOKEN" = {token_sql} AND "STATUS" IN ('PENDING', 'TIMED_OUT');
""")
    pg_update = sql("update.sql", f"""\\set i random(0, {workflows - 1})
UPDATE "WORKFLOW_STATE" SET "STARTED_AT" = COALESCE("STARTED_AT", now()), "UPDATED_AT" = now() WHERE "TOKEN" = {token_sql} AND "STEP" = 'BOM_CONSUMPTION';
""")
    pg_cascade = sql("cascade.sql", f"""SELECT nextval('cascade_seq') AS i \\gset
BEGIN;
UPDATE "WORKFLOW_STATE" SET "STATUS" = 'FAILED', "FAILURE_REASON" = 'bench', "UPDATED_AT" = now() WHERE "TOKEN" = {token_sql} AND "STEP" = 'BOM_CONSUMPTION' AND "STATUS" IN ('PENDING', 'TIMED_OUT');
WITH RECURSIVE descendants AS (
  SELECT "ID" FROM "WORKFLOW_STATE" WHERE "PARENT_STEP_ID" = (SELECT "ID" FROM "WORKFLOW_STATE" WHERE "TOKEN" = {token_sql} AND "STEP" = 'BOM_CONSUMPTION')
  UNION ALL SELECT w."ID" FROM "WORKFLOW_STATE" w JOIN descendants d ON w."PARENT_STEP_ID" = d."ID")
UPDATE "WORKFLOW_STATE" SET "STATUS" = 'CANCELLED', "UPDATED_AT" = now() WHERE "ID" IN (SELECT "ID" FROM descendants) AND "STATUS" IN ('PENDING', 'TIMED_OUT');
COMMIT;
""")
    inserts = []
    for s, step in enumerate(steps):
        parent = f"(SELECT id FROM s{s - 1})" if s else "NULL"
        inserts.append(f's{s} AS (INSERT INTO "WORKFLOW_STATE" ("PARENT_STEP_ID","TOKEN","UPDATED_AT","STEP","STATUS") '
                       f"VALUES ({parent}, (SELECT t FROM token), now(), '{step}', 'PENDING') RETURNING \"ID\" AS id)")
    pg_create = sql("create.sql", "WITH token AS (SELECT gen_random_uuid()::text AS t), " + ", ".join(inserts) + " SELECT id FROM s4;\n")
    # --- wrk scripts for bomflow (each thread takes its own range of tokens for the cascade).
    common = 'local n = tonumber(os.getenv("WORKFLOWS")); local key = os.getenv("APIKEY"); math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)\n'
    poll = lua("poll.lua", common + f'request = function() return wrk.format("GET", string.format("/api/v1/event/token/{TOKEN}", math.random(0, n - 1)), {{["X-Api-Key"] = key}}) end\n')
    nginx_poll = lua("nginx.lua", common + f'request = function() return wrk.format("GET", string.format("/api/v1/event/token/{TOKEN}", math.random(0, n - 1))) end\n')
    update = lua("update.lua", common + f'request = function() return wrk.format("PATCH", string.format("/api/v1/workflow/token/{TOKEN}/step/BOM_CONSUMPTION", math.random(0, n - 1)), {{["X-Api-Key"] = key, ["Content-Type"] = "application/json"}}, \'{{"started":true}}\') end\n')
    cascade = lua("cascade.lua", 'local threads = 0\nfunction setup(thread) thread:set("base", threads * math.floor(tonumber(os.getenv("WORKFLOWS")) / 2)); threads = threads + 1 end\n' + common +
                  f'local counter = 0\nrequest = function() counter = counter + 1; return wrk.format("PATCH", string.format("/api/v1/workflow/token/{TOKEN}/step/BOM_CONSUMPTION", base + counter), {{["X-Api-Key"] = key, ["Content-Type"] = "application/json"}}, \'{{"status":"FAILED","failureReason":"bench"}}\') end\n')
    create = lua("create.lua", common + 'request = function() return wrk.format("POST", "/api/v1/workflow", {["X-Api-Key"] = key, ["Content-Type"] = "application/json"}, \'{"template":"BOM_UPLOAD"}\') end\n')

    print(f"## API: {workflows:,} BOM_UPLOAD workflows; bomflow serve (2 loops, sync full, API key) vs nginx-light (fixed body) vs PostgreSQL 15 "
          f"(Hyades WORKFLOW_STATE, synchronous_commit=on, pgbench -M prepared); {seconds} s per run\n")
    print(f"bomflow load: {load.strip()}\n")
    print(f"bomflow binary: {serve_bin}\n")
    print("| operation | load | bomflow req/s | p50 ms | p99 ms | non-2xx | nginx req/s | nginx p99 ms | PostgreSQL tps | PG avg ms | bomflow/nginx | bomflow/PG |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    spread = []
    layer = []
    control = None
    fixed = lua("fixed.lua", 'request = function() return wrk.format("GET", "/fixed") end\n')
    for threads, connections in [(2, 64), (1, 1)]:
        runs = [lambda: wrk(BOMFLOW_PORT, poll, threads, connections),
                lambda: wrk(NGINX_PORT, nginx_poll, threads, connections),
                lambda: pgbench(pg_poll, connections, threads)]
        if fixture_bin:
            runs.append(lambda: wrk(FIXTURE_PORT, fixed, threads, connections))
            runs.append(lambda: wrk(FIXTURE_PORT, poll, threads, connections))
        if fixture_bin and connections == 64:
            # The p99's control: the layer spending the API's own user CPU per poll (calibrated here).
            # From the second of two runs each: the first maps the store's pages into bomflow serve.
            for _ in range(2):
                api_ns = user_ns_per_request(server.pid, BOMFLOW_PORT, poll)
                layer_ns = user_ns_per_request(fixture.pid, FIXTURE_PORT, poll)
            spin_ns = max(0, round(api_ns - layer_ns))
            processes.append(subprocess.Popen([fixture_bin, "--port", str(SPIN_PORT), "--loops", "2", "--poll-cpu-ns", str(spin_ns)],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_port(SPIN_PORT)
            runs.append(lambda: wrk(SPIN_PORT, poll, threads, connections))
        medians, rates = median_runs(runs)
        mine, theirs, pg = medians[:3]
        spread.append((f"poll -t{threads} -c{connections}",
                       ["bomflow", "nginx", "PostgreSQL", "HTTP layer /fixed", "HTTP layer, the poll's request",
                        "HTTP layer, the poll's request + the API's CPU as a busy loop"][:len(runs)], rates))
        if fixture_bin:
            layer.append((f"-t{threads} -c{connections}", mine, medians[3], medians[4]))
        if len(medians) > 5:
            control = (api_ns, layer_ns, spin_ns, mine, medians[4], medians[5])
        print(f"| poll (event/token) | -t{threads} -c{connections} | {mine[0]:,.0f} | {mine[1]:.3f} | {mine[2]:.3f} | {mine[3]} | {theirs[0]:,.0f} | {theirs[2]:.3f} | "
              f"{pg[0]:,.0f} | {pg[1]:.3f} | {mine[0] / theirs[0]:.2f}x | {mine[0] / pg[0]:.2f}x |")
    caches = []
    disk_written = []
    for label, script, pg_script in [("durable step update", update, pg_update), ("fail with cascade", cascade, pg_cascade), ("create workflow", create, pg_create)]:
        if label == "durable step update":
            # On the page cache as the bulk load left it (large folios: see common.recache), then
            # restarted on the data file dropped from the cache and read back a page at a time.
            for state in ["page cache as the bulk load left it", "page cache re-read a page at a time"]:
                if caches:
                    server.terminate()
                    server.wait(timeout=60)
                    processes.remove(server)
                    pages, took = recache(f"{data}/data.mdb")
                    server = start_serve()
                    state += f" ({pages:,} pages, {took:.1f} s)"
                (mine, pg), rates = median_runs([lambda: with_disk(lambda: wrk(BOMFLOW_PORT, script, 2, 64)),
                                                 lambda: with_disk(lambda: pgbench(pg_script, 64, 2))])
                disk_written.append((state, mine[-1], pg[-1]))
                caches.append((state, census()))
                spread.append((f"{label}, {state}", ["bomflow", "PostgreSQL"], [[run[:-1] for run in side] for side in rates]))
                print(f"| {label}, {state} | -t2 -c64 | {mine[0]:,.0f} | {mine[1]:.3f} | {mine[2]:.3f} | {mine[3]} | | | "
                      f"{pg[0]:,.0f} | {pg[1]:.3f} | | {mine[0] / pg[0]:.2f}x |")
            # The same requests with --sync none: the server's own ceiling when durability costs nothing (what no
            # durable design, a write-ahead log included, can pass on this machine). Back to --sync full after.
            for sync in ["none", "full"]:
                server.terminate()
                server.wait(timeout=60)
                processes.remove(server)
                server = start_serve(sync)
                if sync == "none":
                    (mine, pg), rates = median_runs([lambda: wrk(BOMFLOW_PORT, script, 2, 64), lambda: pgbench(pg_script, 64, 2)])
                    spread.append((f"{label}, bomflow --sync none", ["bomflow", "PostgreSQL"], rates))
                    print(f"| {label}, bomflow with --sync none (not durable: the server's ceiling without the disk's cost) | -t2 -c64 | "
                          f"{mine[0]:,.0f} | {mine[1]:.3f} | {mine[2]:.3f} | {mine[3]} | | | {pg[0]:,.0f} | {pg[1]:.3f} | | {mine[0] / pg[0]:.2f}x |")
        elif label == "create workflow":
            (mine, pg), rates = median_runs([lambda: wrk(BOMFLOW_PORT, script, 2, 64), lambda: pgbench(pg_script, 64, 2)])
            spread.append((label, ["bomflow", "PostgreSQL"], rates))
        else:
            mine = wrk(BOMFLOW_PORT, script, 2, 64)
            pg = pgbench(pg_script, 64, 2)
        if label != "durable step update":
            print(f"| {label} | -t2 -c64 | {mine[0]:,.0f} | {mine[1]:.3f} | {mine[2]:.3f} | {mine[3]} | | | {pg[0]:,.0f} | {pg[1]:.3f} | | {mine[0] / pg[0]:.2f}x |")
        if label == "durable step update" and raw_lmdb:
            raw_env = dict(os.environ, RAW_LMDB_DISK=DISK)
            for variant in ["", "recached", "nometasync", "formateight", "formatseven"]:
                raw_dir = os.path.join(work, "raw-" + (variant or "sync"))
                line = subprocess.run([raw_lmdb, "updates", raw_dir, str(workflows), str(seconds), "32"] + ([variant] if variant else []),
                                      capture_output=True, text=True, check=True, env=raw_env).stdout
                rate = float(re.search(r'"updatesPerSecond":(\d+)', line).group(1))
                shutil.rmtree(raw_dir, ignore_errors=True)
                name = "raw liblmdb, " + {"": "format-9 update shape", "recached": "format-9 update shape, page cache re-read a page at a time",
                                          "nometasync": "format-9 update shape, MDB_NOMETASYNC",
                                          "formateight": "format-8 update shape (record in `workflows`)",
                                          "formatseven": "format-7 update shape (and the deadline moved)"}[variant] + ", 32/commit" + disk_bytes(line)
                print(f"| {name} | 1 thread | {rate:,.0f} | | | | | | {pg[0]:,.0f} | | | {rate / pg[0]:.2f}x |")
            for variant in ["wal", "nosync"]:
                raw_dir = os.path.join(work, "raw-" + variant)
                command = ([raw_lmdb, "wal", raw_dir, str(workflows), str(seconds), "32", "1"] if variant == "wal"
                           else [raw_lmdb, "updates", raw_dir, str(workflows), str(seconds), "32", "nosync"])
                line = subprocess.run(command, capture_output=True, text=True, check=True, env=raw_env).stdout
                rate = float(re.search(r'"updatesPerSecond":(\d+)', line).group(1))
                shutil.rmtree(raw_dir, ignore_errors=True)
                grew = re.search(r'"mapGrowthPages":(-?\d+)', line)
                name = {"wal": "raw liblmdb, write-ahead-log design (MDB_NOSYNC, log append + fdatasync per commit, checkpoint every 1 s; "
                               f"the map grew {int(grew.group(1)) if grew else 0:,} pages)",
                        "nosync": "raw liblmdb, MDB_NOSYNC (not durable: LMDB's own ceiling)"}[variant] + ", 32/commit" + disk_bytes(line)
                print(f"| {name} | {'2 threads' if variant == 'wal' else '1 thread'} | {rate:,.0f} | | | | | | {pg[0]:,.0f} | | | {rate / pg[0]:.2f}x |")
    for load, mine, fixed_run, same_run in layer:
        print(f"\nThe poll on our own HTTP layer, {load}: the layer's fixed response (bomflow-http-fixture /fixed, same body) "
              f"{fixed_run[0]:,.0f} req/s, p99 {fixed_run[2]:.3f} ms; the poll {mine[0]:,.0f} req/s = {mine[0] / fixed_run[0]:.2f}x of it. "
              f"The layer answering the poll's own request (same target and X-Api-Key header, same fixed body) {same_run[0]:,.0f} req/s, "
              f"p99 {same_run[2]:.3f} ms: the poll = {mine[0] / same_run[0]:.2f}x of it")
    if control:
        api_ns, layer_ns, spin_ns, mine, same_run, spin_run = control
        print(f"\nThe p99's control, -t2 -c64: user CPU per poll {api_ns:,.0f} ns in bomflow serve, {layer_ns:,.0f} ns in the layer "
              f"answering the poll's request (the second of two calibration runs each); the layer spending the difference, {spin_ns:,} ns, as a busy "
              f"loop per poll (--poll-cpu-ns): {spin_run[0]:,.0f} req/s, p50 {spin_run[1]:.3f} ms, p99 {spin_run[2]:.3f} ms; the poll: "
              f"p50 {mine[1]:.3f} ms, p99 {mine[2]:.3f} ms; the layer without it: p99 {same_run[2]:.3f} ms")
    for state, mine, pg in disk_written:
        print(f"\nThe disk's writes per durable update during the median rounds, {state}: bomflow {mine / 1024:.1f} KiB, "
              f"PostgreSQL {pg / 1024:.1f} KiB (its write-ahead log; its table pages reach the disk in place at checkpoints, "
              f"by default every 5 minutes or 1 GB of log: what a round leaves dirty is not counted)")
    for state, found in caches:
        print(f"\nThe data file in the page cache after the durable updates, {state}: {found}")
    if caches:
        print("(the fail-with-cascade and create rows ran after the second: on the re-read page cache)")
    print(f"\nRates (and wrk's p99) of the {rounds} alternating rounds (the table shows each side's median run):\n")
    for label, names, rates in spread:
        # A wrk run's p99 with its rate: the p99 varies between rounds more than the rate does.
        print(f"- {label}: " + "; ".join(f"{name} " + " / ".join(f"{run[0]:,.0f}" + (f" (p99 {run[2]:.2f} ms)" if len(run) == 4 else "")
                                                                   for run in runs) for name, runs in zip(names, rates)))
finally:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    pg_data = os.path.join(work, "pg")
    if os.path.exists(os.path.join(pg_data, "postmaster.pid")):
        pg_ctl = [p for p in os.listdir("/usr/lib/postgresql")]
        subprocess.run(["runuser", "-u", "postgres", "--", f"/usr/lib/postgresql/{sorted(pg_ctl)[-1]}/bin/pg_ctl", "-D", pg_data, "-m", "fast", "stop"], capture_output=True)
    shutil.rmtree(work, ignore_errors=True)
