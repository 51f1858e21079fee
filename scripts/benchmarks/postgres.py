#!/usr/bin/env python3
"""PostgreSQL backend benchmark (issue: beyond one host), side by side in one run:

1. bomflow serve on PostgreSQL over HTTP (wrk) next to bare pgbench running the SQL bomflow itself
   sends for the same operation, at the same concurrency: bomflow's overhead ratio. Operations: the
   Dependency-Track poll, a durable step update, a failure with cascade, a create.
2. bomflow on LMDB next to bomflow on PostgreSQL (same workflows, same wrk scripts).
3. Two bomflow hosts on one database: claims + completions per second (Python clients, 8
   threads, claims through both hosts), and the cross-host wake-up latency of a watch (a long-poll
   on host A answered after a write through host B; from B's answer to A's).

Both stores hold the same WORKFLOWS BOM_UPLOAD workflows (token i = 00000001-0000-4000-8000-%012x),
made by bomflow-store-driver on LMDB and moved to PostgreSQL with `bomflow export | bomflow import`.
PostgreSQL 15: private cluster on loopback, synchronous_commit=on, fsync on, shared_buffers 1GB.
Usage: postgres.py BIN_DIR [WORKFLOWS] [SECONDS]"""
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import parse_wrk, wait_port  # noqa: E402

bin_dir = sys.argv[1]
workflows = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 10
PG_PORT, LMDB_PORT, HOST_A, HOST_B = 15532, 18491, 18492, 18493
TOKEN = "00000001-0000-4000-8000-%012x"
work = tempfile.mkdtemp(prefix="bomflow-pg-bench-")
os.chmod(work, 0o755)
processes = []
pg_bin = f"/usr/lib/postgresql/{sorted(int(v) for v in os.listdir('/usr/lib/postgresql') if v.isdigit())[-1]}/bin"
pg_data = os.path.join(work, "pg")
URL = f"postgres://postgres@127.0.0.1:{PG_PORT}/bench?sslmode=disable"


def write(name, body):
    path = os.path.join(work, name)
    with open(path, "w") as handle:
        handle.write(body)
    return path


def wrk(port, script, threads, connections, key):
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, f"http://127.0.0.1:{port}/"],
                         capture_output=True, text=True, check=True, env={**os.environ, "WORKFLOWS": str(workflows), "APIKEY": key}).stdout
    return parse_wrk(out)


def pgbench(script, clients, threads):
    out = subprocess.run(["runuser", "-u", "postgres", "--", f"{pg_bin}/pgbench", "-n", "-M", "prepared", "-h", "127.0.0.1", "-p", str(PG_PORT),
                          "-c", str(clients), "-j", str(threads), "-T", str(seconds), "-f", script, "bench_sql"],
                         capture_output=True, text=True, cwd="/tmp")
    if out.returncode != 0:
        raise SystemExit(f"pgbench {script} failed: {out.stderr.strip()[-800:]}")
    tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", out.stdout).group(1))
    latency = float(re.search(r"latency average = ([\d.]+) ms", out.stdout).group(1))
    return tps, latency


def serve(arguments, port, data):
    process = subprocess.Popen([f"{bin_dir}/bomflow", "serve", "--port", str(port), "--loops", "2", "--log-level", "error",
                                "--data-dir", data] + arguments, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes.append(process)
    wait_port(port)
    for _ in range(200):
        if os.path.exists(f"{data}/admin.key"):
            break
        time.sleep(0.05)
    return process


def request(port, method, path, key, body=None, timeout=30):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    connection.request(method, path, body=json.dumps(body) if body is not None else None,
                       headers={"X-Api-Key": key, "Content-Type": "application/json"})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, json.loads(data) if data else None


try:
    # --- PostgreSQL 15, private cluster.
    os.makedirs(pg_data)
    shutil.chown(pg_data, "postgres", "postgres")
    subprocess.run(["runuser", "-u", "postgres", "--", f"{pg_bin}/initdb", "-D", pg_data, "-A", "trust", "-U", "postgres"], check=True, capture_output=True)
    subprocess.run(["runuser", "-u", "postgres", "--", "python3", "-c", "import subprocess,sys; sys.exit(subprocess.call(sys.argv[1:], close_fds=True))",
                    f"{pg_bin}/pg_ctl", "-D", pg_data, "-l", f"{pg_data}/log", "-w", "start", "-o",
                    f"-p {PG_PORT} -k {pg_data} -c listen_addresses=127.0.0.1 -c synchronous_commit=on -c fsync=on -c max_connections=300 -c shared_buffers=1GB"],
                   check=True, capture_output=True)
    psql = ["runuser", "-u", "postgres", "--", "psql", "-q", "-h", "127.0.0.1", "-p", str(PG_PORT), "-v", "ON_ERROR_STOP=1"]
    subprocess.run(psql + ["-d", "postgres", "-c", "CREATE DATABASE bench"], check=True, capture_output=True)
    # --- The same workflows in both stores.
    lmdb = os.path.join(work, "lmdb")
    load = subprocess.run([f"{bin_dir}/bomflow-store-driver", "bench", "--dir", lmdb, "--workflows", str(workflows), "--ops", "1000"],
                          capture_output=True, text=True, check=True).stdout
    started = time.time()
    export = subprocess.Popen([f"{bin_dir}/bomflow", "export", "--data-dir", lmdb], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    imported = subprocess.run([f"{bin_dir}/bomflow", "import", "-", "--store", URL, "--batch", "1000"], stdin=export.stdout,
                              capture_output=True, text=True)
    export.wait()
    if imported.returncode != 0:
        raise SystemExit(f"import into PostgreSQL failed: {imported.stderr[-800:]}")
    import_seconds = time.time() - started
    subprocess.run(psql + ["-d", "bench", "-c", "VACUUM ANALYZE"], check=True, capture_output=True)
    sizes = subprocess.run(psql + ["-d", "bench", "-At", "-c",
                                   "SELECT pg_database_size('bench'), pg_total_relation_size('\"WORKFLOW_STATE\"'), "
                                   "pg_total_relation_size('bomflow_step'), pg_total_relation_size('bomflow_workflow')"],
                           check=True, capture_output=True, text=True).stdout.strip().split("|")
    # pgbench runs bomflow's SQL on its own copy of the same data: its statements imitate
    # bomflow's without its rules (e.g. a deadline set to now), and on bomflow's database they
    # would leave thousands of expired deadlines for bomflow's maintenance to time out while the
    # two-host claims below are measured.
    subprocess.run(psql + ["-d", "postgres", "-c", "CREATE DATABASE bench_sql TEMPLATE bench"], check=True, capture_output=True)
    serve(["--store", URL, "--store-pool", "16"], HOST_A, os.path.join(work, "host-a"))
    serve(["--store", URL, "--store-pool", "16"], HOST_B, os.path.join(work, "host-b"))
    serve([], LMDB_PORT, lmdb)
    pg_key = open(os.path.join(work, "host-a", "admin.key")).read().strip()
    lmdb_key = open(os.path.join(lmdb, "admin.key")).read().strip()

    # --- wrk scripts (each thread of the cascade takes its own range of tokens).
    common = 'local n = tonumber(os.getenv("WORKFLOWS")); local key = os.getenv("APIKEY"); math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)\n'
    poll = write("poll.lua", common + f'request = function() return wrk.format("GET", string.format("/api/v1/event/token/{TOKEN}", math.random(0, n - 1)), {{["X-Api-Key"] = key}}) end\n')
    update = write("update.lua", common + f'request = function() return wrk.format("PATCH", string.format("/api/v1/workflow/token/{TOKEN}/step/BOM_CONSUMPTION", math.random(0, n - 1)), {{["X-Api-Key"] = key, ["Content-Type"] = "application/json"}}, \'{{"started":true}}\') end\n')
    cascade_lua = ('local threads = 0\nfunction setup(thread) thread:set("base", threads * math.floor(tonumber(os.getenv("WORKFLOWS")) / 4)); threads = threads + 1 end\n'
                   + common + f'local counter = 0\nrequest = function() counter = counter + 1; return wrk.format("PATCH", string.format("/api/v1/workflow/token/{TOKEN}/step/BOM_CONSUMPTION", base + counter), {{["X-Api-Key"] = key, ["Content-Type"] = "application/json"}}, \'{{"status":"FAILED","failureReason":"bench"}}\') end\n')
    cascade = write("cascade.lua", cascade_lua)
    cascade_lmdb = write("cascade_lmdb.lua", cascade_lua.replace("threads * math", "(threads + 2) * math"))
    create = write("create.lua", common + 'request = function() return wrk.format("POST", "/api/v1/workflow", {["X-Api-Key"] = key, ["Content-Type"] = "application/json"}, \'{"template":"BOM_UPLOAD"}\') end\n')

    # --- The SQL bomflow sends for each operation (docs/OPERATIONS.md), for pgbench.
    token_sql = "('00000001-0000-4000-8000-' || lpad(to_hex((:i)::bigint), 12, '0'))::uuid"
    columns = ('w.id, w.token, w.created_at, w.template, w.created_by, w.label_keys, w.label_values, w.version, w.definition_step_count, '
               'w.concurrency_key, w.held, b.state_id, s."STEP", s."STATUS", s."FAILURE_REASON", (extract(epoch FROM s."STARTED_AT") * 1000)::BIGINT, '
               '(extract(epoch FROM s."UPDATED_AT") * 1000)::BIGINT, p."STEP", b.created_as, b.progress_expected, b.progress_completed, '
               'b.progress_failed, b.progress_threshold, b.claim_worker, b.claim_attempt, b.claim_lease_expires_at, b.attempts, b.ready_at')
    joins = ('bomflow_workflow w JOIN bomflow_step b ON b.workflow_id = w.id JOIN "WORKFLOW_STATE" s ON s."ID" = b.state_id '
             'LEFT JOIN "WORKFLOW_STATE" p ON p."ID" = s."PARENT_STEP_ID"')
    load_sql = f"SELECT id FROM bomflow_workflow WHERE token = {token_sql} FOR UPDATE;\nSELECT {columns} FROM {joins} WHERE w.token = {token_sql} ORDER BY b.ordinal;\n"
    now_ms = "(extract(epoch FROM clock_timestamp()) * 1000)::BIGINT"
    pg_poll = write("poll.sql", f"\\set i random(0, {workflows - 1})\nSELECT token_status FROM bomflow_workflow WHERE token = {token_sql};\n")
    pg_update = write("update.sql", f"""\\set i random(0, {workflows - 1})
BEGIN;
{load_sql}UPDATE bomflow_workflow SET version = version + 1, held = false, token_status = 1, processing = true, finished_at = NULL WHERE token = {token_sql};
UPDATE "WORKFLOW_STATE" SET "STARTED_AT" = COALESCE("STARTED_AT", now()), "UPDATED_AT" = now() WHERE "TOKEN" = {token_sql} AND "STEP" = 'BOM_CONSUMPTION';
UPDATE bomflow_step SET deadline = {now_ms} WHERE state_id = (SELECT "ID" FROM "WORKFLOW_STATE" WHERE "TOKEN" = {token_sql} AND "STEP" = 'BOM_CONSUMPTION');
SELECT pg_notify('bomflow_change', '');
COMMIT;
""")
    pg_cascade = write("cascade.sql", f"""SELECT nextval('cascade_seq') AS i \\gset
BEGIN;
{load_sql}UPDATE bomflow_workflow SET version = version + 1, token_status = 3, processing = false, finished_at = {now_ms} WHERE token = {token_sql};
UPDATE "WORKFLOW_STATE" SET "STATUS" = CASE WHEN "STEP" = 'BOM_CONSUMPTION' THEN 'FAILED' ELSE 'CANCELLED' END,
  "FAILURE_REASON" = CASE WHEN "STEP" = 'BOM_CONSUMPTION' THEN 'bench' END, "UPDATED_AT" = now() WHERE "TOKEN" = {token_sql};
UPDATE bomflow_step SET claimable_since = NULL, deadline = NULL WHERE workflow_id = (SELECT id FROM bomflow_workflow WHERE token = {token_sql});
SELECT pg_notify('bomflow_change', '');
COMMIT;
""")
    steps = ["BOM_CONSUMPTION", "BOM_PROCESSING", "VULN_ANALYSIS", "POLICY_EVALUATION", "METRICS_UPDATE"]
    inserts = []
    for s, step in enumerate(steps):
        parent = f"(SELECT id FROM s{s - 1})" if s else "NULL"
        inserts.append(f's{s} AS (INSERT INTO "WORKFLOW_STATE" ("PARENT_STEP_ID","TOKEN","UPDATED_AT","STEP","STATUS") '
                       f"VALUES ({parent}, (SELECT t FROM token), now(), '{step}', 'PENDING') RETURNING \"ID\" AS id)")
        inserts.append(f"b{s} AS (INSERT INTO bomflow_step (state_id, workflow_id, ordinal, step, created_as, attempts, claimable_since, deadline) "
                       f"VALUES ((SELECT id FROM s{s}), (SELECT id FROM w), {s}, '{step}', 'PENDING', 0, {'1' if s == 0 else 'NULL'}, {'1' if s == 0 else 'NULL'}))")
    pg_create = write("create.sql", "BEGIN;\nWITH token AS (SELECT gen_random_uuid() AS t), w AS (INSERT INTO bomflow_workflow (token, created_at, label_keys, label_values, "
                      "version, definition_step_count, held, token_status, processing) SELECT t, 1, '{}', '{}', 1, 5, false, 0, true FROM token RETURNING id), "
                      + ", ".join(inserts) + " SELECT 1;\nSELECT pg_notify('bomflow_change', '');\nCOMMIT;\n")
    subprocess.run(psql + ["-d", "bench_sql", "-c", f"CREATE SEQUENCE cascade_seq START {workflows // 2} MINVALUE 0"], check=True, capture_output=True)

    print(f"## PostgreSQL backend: {workflows:,} BOM_UPLOAD workflows; bomflow serve --store (2 loops, pool 16, API key) vs pgbench running "
          f"the same SQL (-M prepared, on a copy of the database), and vs bomflow on LMDB (sync full); PostgreSQL 15 synchronous_commit=on; {seconds} s per run\n")
    print(f"load: LMDB {load.strip()}; `bomflow export | bomflow import --store` into PostgreSQL: {import_seconds:.1f} s "
          f"({workflows / import_seconds:,.0f} workflows/s); database {int(sizes[0]) / workflows:,.0f} bytes per workflow "
          f"(WORKFLOW_STATE {int(sizes[1]) / workflows:,.0f}, bomflow_step {int(sizes[2]) / workflows:,.0f}, "
          f"bomflow_workflow {int(sizes[3]) / workflows:,.0f}, with indexes)\n")
    print("| operation | load | bomflow on PG req/s | p50 ms | p99 ms | non-2xx | pgbench tps (same SQL) | PG avg ms | bomflow/pgbench | bomflow on LMDB req/s | LMDB p99 ms | LMDB/PG |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, script, lmdb_script, sql_script, threads, connections in [
            ("poll (event/token)", poll, poll, pg_poll, 2, 64), ("poll (event/token)", poll, poll, pg_poll, 1, 1),
            ("durable step update", update, update, pg_update, 2, 64), ("fail with cascade", cascade, cascade_lmdb, pg_cascade, 2, 64),
            ("create workflow", create, create, pg_create, 2, 64)]:
        mine = wrk(HOST_A, script, threads, connections, pg_key)
        bare = pgbench(sql_script, connections, threads)
        local = wrk(LMDB_PORT, lmdb_script, threads, connections, lmdb_key)
        print(f"| {label} | -t{threads} -c{connections} | {mine[0]:,.0f} | {mine[1]:.3f} | {mine[2]:.3f} | {mine[3]} | {bare[0]:,.0f} | {bare[1]:.3f} | "
              f"{mine[0] / bare[0]:.2f}x | {local[0]:,.0f} | {local[2]:.3f} | {local[0] / mine[0]:.2f}x |")

    # --- Two hosts: claims + completions, and cross-host wake-up.
    tokens = [str(uuid.uuid4()) for _ in range(500)]
    for token in tokens[:400]:
        request(HOST_A, "POST", "/api/v1/workflow", pg_key, {"token": token, "template": "BOM_UPLOAD"})
    # The watched workflows have a step no worker claims.
    for token in tokens[400:]:
        request(HOST_A, "POST", "/api/v1/workflow", pg_key, {"token": token, "steps": [{"step": "WATCHED"}]})
    done = []
    stop = time.time() + seconds

    def worker(name, port):
        while time.time() < stop:
            status, body = request(port, "POST", "/api/v1/workflow/claim", pg_key,
                                   {"steps": ["BOM_CONSUMPTION", "BOM_PROCESSING", "VULN_ANALYSIS", "POLICY_EVALUATION", "METRICS_UPDATE"],
                                    "worker": name, "leaseSeconds": 300, "max": 1})
            for claim in (body or {}).get("claims", []):
                status, _ = request(port, "PATCH", f"/api/v1/workflow/token/{claim['token']}/step/{claim['step']}", pg_key,
                                    {"status": "COMPLETED", "worker": name})
                if status == 200:
                    done.append(1)

    threads = [threading.Thread(target=worker, args=(f"w{i}", HOST_A if i % 2 else HOST_B)) for i in range(8)]
    started = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claims_per_second = len(done) / (time.time() - started)
    latencies = []
    for round_number in range(100):
        token = tokens[400 + round_number]
        _, workflow = request(HOST_A, "GET", f"/api/v1/workflow/token/{token}", pg_key)
        answered = {}

        def watch():
            request(HOST_A, "GET", f"/api/v1/workflow/token/{token}?wait=10&since={workflow['version']}", pg_key)
            answered["at"] = time.perf_counter()

        watcher = threading.Thread(target=watch)
        watcher.start()
        time.sleep(0.05)
        request(HOST_B, "PATCH", f"/api/v1/workflow/token/{token}/step/WATCHED", pg_key, {"started": True})
        written = time.perf_counter()
        watcher.join()
        latencies.append((answered["at"] - written) * 1000)
    latencies.sort()
    print(f"\ntwo hosts on one database: {claims_per_second:,.0f} claims+completions/s (8 Python client threads, "
          f"claims through both hosts, {len(done):,} in {seconds} s); cross-host wake-up of a watch: "
          f"p50 {statistics.median(latencies):.1f} ms, p99 {latencies[98]:.1f} ms (100 rounds; write on B answered → watch on A answered)")
finally:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    if os.path.exists(os.path.join(pg_data, "postmaster.pid")):
        subprocess.run(["runuser", "-u", "postgres", "--", f"{pg_bin}/pg_ctl", "-D", pg_data, "-m", "fast", "stop"], capture_output=True)
    shutil.rmtree(work, ignore_errors=True)
