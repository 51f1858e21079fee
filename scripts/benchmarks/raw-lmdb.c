/* raw-lmdb: the lower bound for bomflow's store operations, measured with liblmdb directly.
 *
 * It lays out data the way LMDBStore does (docs/STORAGE.md) but with no model, no codec and
 * no index maintenance: a `tokens` database (token 16 B -> workflow id 8 B) and a `steps`
 * database (id 8 B || ordinal 1 B -> a 48-byte step record whose byte 1 is the status).
 *
 *   raw-lmdb bench DIR WORKFLOWS OPS   load WORKFLOWS five-step workflows (if not loaded), then
 *                                      time isProcessing, get, durable single update, 64 updates
 *                                      per transaction; one JSON line of operations per second.
 *   raw-lmdb updates DIR WORKFLOWS SECONDS GROUP [nometasync|nosync|formateight|formatseven|recached]
 *                                      load WORKFLOWS, then durable commits of GROUP random
 *                                      updates shaped like bomflow's format 9 (tokens lookup,
 *                                      workflow record at the ID and step row in `steps`, an event
 *                                      appended after the workflow's rows) for SECONDS; one JSON
 *                                      line with updates per second. `nometasync` opens with
 *                                      MDB_NOMETASYNC (no synchronous meta page write) to size that
 *                                      lever; `nosync` opens with MDB_NOSYNC (not durable: LMDB's
 *                                      own CPU and page-cache ceiling); `formateight` keeps the workflow record in a
 *                                      `workflows` tree of its own, as formats up to 8 did;
 *                                      `formatseven` also moves the step's deadline entry on every
 *                                      update, as format 7 did; `recached` drops the data file
 *                                      from the page cache after the load and reads it back a page
 *                                      at a time before the updates (see recache()).
 *   raw-lmdb wal DIR WORKFLOWS SECONDS GROUP CHECKPOINT
 *                                      the same updates in the write-ahead-log design's shape
 *                                      (see wal_updates()): MDB_NOSYNC, one log append and one
 *                                      fdatasync per commit, a checkpoint every CHECKPOINT seconds.
 *   RAW_LMDB_DISK=vda (a block device's name) adds the disk's written bytes per update to the
 *   JSON lines of `updates` and `wal`.
 *   raw-lmdb layout DIR WORKFLOWS      compare keying steps by random token vs by sequential id:
 *                                      1,000 single creates, 50 commits of 64 creates, 50 commits
 *                                      of 64 updates to the 2,000 newest workflows, each phase
 *                                      after a "MARK phase" line on stderr so that scripts/bench
 *                                      can sum the bytes LMDB pwrite()s per phase under strace.
 * Every LMDB return code is checked; any failure exits 1 with the call and mdb_strerror.
 */
#define _GNU_SOURCE
#include <lmdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#define CHECK(call) do { int rc_ = (call); if (rc_ != 0) { fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #call, mdb_strerror(rc_)); exit(1); } } while (0)
#define STEPS 5
#define RECORD 48

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t next_random(void) { rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17; return rng_state; }
static double now_seconds(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static void put_be64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (56 - 8 * i)); }
static void token_of(uint64_t n, unsigned char out[16]) { uint64_t a = n * 0x9E3779B97F4A7C15ull ^ 0x5bd1e995, b = (n + 7) * 0xC2B2AE3D27D4EB4Full; put_be64(out, a); put_be64(out + 8, b); }

static void mark(const char *label) { fprintf(stderr, "MARK %s\n", label); fflush(stderr); }

typedef struct { MDB_env *env; MDB_dbi tokens, steps; } Store;

static void open_store(Store *s, const char *dir, unsigned flags) {
    mkdir(dir, 0700);
    CHECK(mdb_env_create(&s->env));
    CHECK(mdb_env_set_mapsize(s->env, (size_t)64 << 30));
    CHECK(mdb_env_set_maxdbs(s->env, 4));
    CHECK(mdb_env_set_maxreaders(s->env, 1024));
    CHECK(mdb_env_open(s->env, dir, MDB_NOTLS | MDB_NORDAHEAD | flags, 0600));
    MDB_txn *txn;
    CHECK(mdb_txn_begin(s->env, NULL, 0, &txn));
    CHECK(mdb_dbi_open(txn, "tokens", MDB_CREATE, &s->tokens));
    CHECK(mdb_dbi_open(txn, "steps", MDB_CREATE, &s->steps));
    CHECK(mdb_txn_commit(txn));
}

static void fill_record(unsigned char *r, int ordinal, uint64_t stamp) { memset(r, 'x', RECORD); r[0] = 1; r[1] = 0; r[2] = 0; r[4] = (unsigned char)ordinal; put_be64(r + 5, stamp); }

/* Keyed by sequential id (bomflow's layout), with the token index. */
static void create_seq(MDB_txn *txn, Store *s, uint64_t id, unsigned char token[16]) {
    unsigned char idk[8], key[9], rec[RECORD];
    put_be64(idk, id);
    MDB_val tk = {16, token}, tv = {8, idk};
    CHECK(mdb_put(txn, s->tokens, &tk, &tv, 0));
    for (int o = 0; o < STEPS; o++) {
        memcpy(key, idk, 8); key[8] = (unsigned char)o; fill_record(rec, o, id);
        MDB_val k = {9, key}, v = {RECORD, rec};
        CHECK(mdb_put(txn, s->steps, &k, &v, 0));
    }
}

/* Keyed by the random token itself (the alternative DESIGN.md mentions). */
static void create_token(MDB_txn *txn, Store *s, unsigned char token[16]) {
    unsigned char key[17], rec[RECORD];
    for (int o = 0; o < STEPS; o++) {
        memcpy(key, token, 16); key[16] = (unsigned char)o; fill_record(rec, o, 0);
        MDB_val k = {17, key}, v = {RECORD, rec};
        CHECK(mdb_put(txn, s->steps, &k, &v, 0));
    }
}

/* Positions a new cursor on the first step row of `token`'s workflow; 0 when the token is unknown.
 * The caller walks the rows while step_of() says they belong to `prefix`, then closes the cursor. */
static int open_steps(MDB_txn *txn, Store *s, unsigned char token[16], unsigned char prefix[8], MDB_cursor **c, MDB_val *k, MDB_val *v) {
    MDB_val tk = {16, token}, tv;
    int rc = mdb_get(txn, s->tokens, &tk, &tv);
    if (rc == MDB_NOTFOUND) return 0;
    CHECK(rc);
    memcpy(prefix, tv.mv_data, 8);
    CHECK(mdb_cursor_open(txn, s->steps, c));
    k->mv_size = 8; k->mv_data = prefix;
    rc = mdb_cursor_get(*c, k, v, MDB_SET_RANGE);
    if (rc != 0 && rc != MDB_NOTFOUND) CHECK(rc);
    return rc == 0 ? 1 : -1;
}

static int step_of(const MDB_val *k, const unsigned char prefix[8]) { return k->mv_size == 9 && memcmp(k->mv_data, prefix, 8) == 0; }

static int next_step(MDB_cursor *c, MDB_val *k, MDB_val *v) {
    int rc = mdb_cursor_get(c, k, v, MDB_NEXT);
    if (rc != 0 && rc != MDB_NOTFOUND) CHECK(rc);
    return rc == 0;
}

static int is_processing(MDB_txn *txn, Store *s, unsigned char token[16]) {
    unsigned char prefix[8]; MDB_cursor *c; MDB_val k, v;
    int positioned = open_steps(txn, s, token, prefix, &c, &k, &v);
    if (positioned == 0) return 0;
    int processing = 0;
    for (int more = positioned > 0; more && step_of(&k, prefix); more = next_step(c, &k, &v)) {
        if (((unsigned char *)v.mv_data)[1] <= 1) { processing = 1; break; }
    }
    mdb_cursor_close(c);
    return processing;
}

static int get_workflow(MDB_txn *txn, Store *s, unsigned char token[16], unsigned char out[STEPS][RECORD]) {
    unsigned char prefix[8]; MDB_cursor *c; MDB_val k, v;
    int positioned = open_steps(txn, s, token, prefix, &c, &k, &v);
    if (positioned == 0) return 0;
    int n = 0;
    for (int more = positioned > 0; more && step_of(&k, prefix) && n < STEPS; more = next_step(c, &k, &v)) {
        memcpy(out[n++], v.mv_data, v.mv_size < RECORD ? v.mv_size : RECORD);
    }
    mdb_cursor_close(c);
    return n;
}

/* A single-step update: look up the token, read the row, write it back changed. */
static void update_step(MDB_txn *txn, Store *s, unsigned char token[16], uint64_t stamp) {
    MDB_val tk = {16, token}, tv;
    CHECK(mdb_get(txn, s->tokens, &tk, &tv));
    unsigned char key[9], rec[RECORD];
    memcpy(key, tv.mv_data, 8); key[8] = 0;
    MDB_val k = {9, key}, v;
    CHECK(mdb_get(txn, s->steps, &k, &v));
    memcpy(rec, v.mv_data, RECORD);
    put_be64(rec + 5, stamp);
    MDB_val nv = {RECORD, rec};
    CHECK(mdb_put(txn, s->steps, &k, &nv, 0));
}

static uint64_t loaded_count(Store *s) {
    MDB_txn *txn; MDB_stat st;
    CHECK(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn));
    CHECK(mdb_stat(txn, s->tokens, &st));
    mdb_txn_abort(txn);
    return st.ms_entries;
}

static int bench(const char *dir, uint64_t workflows, long ops) {
    Store s; open_store(&s, dir, 0);
    uint64_t have = loaded_count(&s);
    double t0 = now_seconds();
    for (uint64_t id = have; id < workflows; ) {
        MDB_txn *txn; CHECK(mdb_txn_begin(s.env, NULL, 0, &txn));
        for (int i = 0; i < 1000 && id < workflows; i++, id++) { unsigned char tok[16]; token_of(id, tok); create_seq(txn, &s, id + 1, tok); }
        CHECK(mdb_txn_commit(txn));
    }
    double load = now_seconds() - t0;
    unsigned char tok[16], out[STEPS][RECORD];
    MDB_txn *rtxn; CHECK(mdb_txn_begin(s.env, NULL, MDB_RDONLY, &rtxn)); mdb_txn_reset(rtxn);
    long hits = 0;
    t0 = now_seconds();
    for (long i = 0; i < ops; i++) { token_of(next_random() % workflows, tok); CHECK(mdb_txn_renew(rtxn)); hits += is_processing(rtxn, &s, tok); mdb_txn_reset(rtxn); }
    double poll = ops / (now_seconds() - t0);
    t0 = now_seconds();
    for (long i = 0; i < ops; i++) { token_of(next_random() % workflows, tok); CHECK(mdb_txn_renew(rtxn)); hits += get_workflow(rtxn, &s, tok, out); mdb_txn_reset(rtxn); }
    double get = ops / (now_seconds() - t0);
    mdb_txn_abort(rtxn);
    long writes = ops / 50 > 200 ? 200 : (ops / 50 < 20 ? 20 : ops / 50);
    t0 = now_seconds();
    for (long i = 0; i < writes; i++) {
        MDB_txn *txn; CHECK(mdb_txn_begin(s.env, NULL, 0, &txn));
        token_of(next_random() % workflows, tok); update_step(txn, &s, tok, (uint64_t)i);
        CHECK(mdb_txn_commit(txn));
    }
    double single = writes / (now_seconds() - t0);
    t0 = now_seconds();
    for (long i = 0; i < writes; i++) {
        MDB_txn *txn; CHECK(mdb_txn_begin(s.env, NULL, 0, &txn));
        for (int j = 0; j < 64; j++) { token_of(next_random() % workflows, tok); update_step(txn, &s, tok, (uint64_t)i); }
        CHECK(mdb_txn_commit(txn));
    }
    double grouped = writes * 64 / (now_seconds() - t0);
    printf("{\"impl\":\"raw-lmdb\",\"workflows\":%llu,\"loadSeconds\":%.1f,\"isProcessing\":%.0f,\"getWorkflow\":%.0f,\"durableUpdate\":%.0f,\"groupedUpdate64\":%.0f,\"hits\":%ld}\n",
           (unsigned long long)workflows, load, poll, get, single, grouped, hits);
    mdb_env_close(s.env);
    return 0;
}

/* The write phases of the layout comparison, for both layouts (bytes are counted by strace). */
static int layout(const char *base, uint64_t workflows) {
    for (int variant = 0; variant < 2; variant++) {
        char dir[4096]; snprintf(dir, sizeof dir, "%s/%s", base, variant ? "by-id" : "by-token");
        Store s; open_store(&s, dir, 0);
        MDB_txn *txn;
        for (uint64_t id = 0; id < workflows; ) {
            CHECK(mdb_txn_begin(s.env, NULL, 0, &txn));
            for (int i = 0; i < 1000 && id < workflows; i++, id++) { unsigned char tok[16]; token_of(id, tok); if (variant) create_seq(txn, &s, id + 1, tok); else create_token(txn, &s, tok); }
            CHECK(mdb_txn_commit(txn));
        }
        CHECK(mdb_env_sync(s.env, 1)); /* flush the load so it is not counted below */
        /* 1,000 durable creates of one workflow each, then 64-per-commit creates. */
        mark(variant ? "by-id single-create" : "by-token single-create");
        for (uint64_t i = 0; i < 1000; i++) {
            unsigned char tok[16]; token_of(workflows + i, tok);
            CHECK(mdb_txn_begin(s.env, NULL, 0, &txn));
            if (variant) create_seq(txn, &s, workflows + i + 1, tok); else create_token(txn, &s, tok);
            CHECK(mdb_txn_commit(txn));
        }
        uint64_t next = workflows + 1000;
        mark(variant ? "by-id grouped-create" : "by-token grouped-create");
        for (int c = 0; c < 50; c++) {
            CHECK(mdb_txn_begin(s.env, NULL, 0, &txn));
            for (int j = 0; j < 64; j++, next++) { unsigned char tok[16]; token_of(next, tok); if (variant) create_seq(txn, &s, next + 1, tok); else create_token(txn, &s, tok); }
            CHECK(mdb_txn_commit(txn));
        }
        /* Updates of the 2,000 newest workflows (where the activity is): 64 per commit. */
        mark(variant ? "by-id grouped-update" : "by-token grouped-update");
        for (int c = 0; c < 50; c++) {
            CHECK(mdb_txn_begin(s.env, NULL, 0, &txn));
            for (int j = 0; j < 64; j++) {
                uint64_t n = next - 1 - next_random() % 2000;
                unsigned char tok[16], key[17], rec[RECORD]; token_of(n, tok);
                MDB_val k, v;
                if (variant) { put_be64(key, n + 1); key[8] = 1; k.mv_size = 9; } else { memcpy(key, tok, 16); key[16] = 1; k.mv_size = 17; }
                k.mv_data = key; fill_record(rec, 1, (uint64_t)c);
                v.mv_size = RECORD; v.mv_data = rec;
                CHECK(mdb_put(txn, s.steps, &k, &v, 0));
            }
            CHECK(mdb_txn_commit(txn));
        }
        mark("end");
        MDB_stat st; MDB_envinfo info;
        CHECK(mdb_env_stat(s.env, &st)); CHECK(mdb_env_info(s.env, &info));
        printf("{\"layout\":\"%s\",\"workflows\":%llu,\"mapUsedBytes\":%llu}\n", variant ? "by-id" : "by-token",
               (unsigned long long)workflows, (unsigned long long)((info.me_last_pgno + 1) * st.ms_psize));
        mdb_env_close(s.env);
    }
    return 0;
}

static void open_updates_env(const char *dir, unsigned flags, MDB_env **env, MDB_dbi *tokens, MDB_dbi *flows,
                             MDB_dbi *steps, MDB_dbi *deadlines) {
    MDB_txn *txn;
    CHECK(mdb_env_create(env));
    CHECK(mdb_env_set_mapsize(*env, (size_t)64 << 30));
    CHECK(mdb_env_set_maxdbs(*env, 8));
    CHECK(mdb_env_open(*env, dir, MDB_NOTLS | MDB_NORDAHEAD | flags, 0600));
    CHECK(mdb_txn_begin(*env, NULL, 0, &txn));
    CHECK(mdb_dbi_open(txn, "tokens", MDB_CREATE, tokens));
    CHECK(mdb_dbi_open(txn, "workflows", MDB_CREATE, flows));
    CHECK(mdb_dbi_open(txn, "steps", MDB_CREATE, steps));
    CHECK(mdb_dbi_open(txn, "deadlines", MDB_CREATE, deadlines));
    CHECK(mdb_txn_commit(txn));
}

/* Drops DIR/data.mdb from the page cache and reads it back a page at a time through a map with
 * MADV_RANDOM (as LMDB's own map reads): the load's multi-page writes leave large folios in the
 * page cache (Linux 6.16+ ext4), which make every later single-page write cost the kernel work
 * per page of its folio. Nothing may map the file meanwhile. */
static void recache(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    int fd = open(path, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) { perror(path); exit(1); }
    int advice = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED); /* returns the error, errno untouched */
    if (advice != 0) { fprintf(stderr, "%s: posix_fadvise: %s\n", path, strerror(advice)); exit(1); }
    struct stat st;
    if (fstat(fd, &st) != 0) { perror(path); exit(1); }
    volatile unsigned char *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED || madvise((void *)map, (size_t)st.st_size, MADV_RANDOM) != 0) { perror(path); exit(1); }
    unsigned sum = 0;
    for (off_t offset = 0; offset < st.st_size; offset += 4096) sum += map[offset];
    if (munmap((void *)map, (size_t)st.st_size) != 0) { perror(path); exit(1); }
    close(fd);
    (void)sum;
}

/* Sectors the block device DISK (e.g. "vda") has written, from /sys/block/DISK/stat; 0 if unknown. */
static uint64_t sectors_written(const char *disk) {
    char path[256]; unsigned long long f[7] = {0};
    if (!disk[0]) return 0;
    snprintf(path, sizeof path, "/sys/block/%s/stat", disk);
    FILE *file = fopen(path, "r");
    if (!file) return 0;
    int n = fscanf(file, "%llu %llu %llu %llu %llu %llu %llu", &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6]);
    fclose(file);
    return n == 7 ? f[6] : 0;
}

/* The trees an update writes: `record` is where the workflow record sits (`steps` from format 9 on,
 * `workflows` before). */
typedef struct { MDB_dbi tokens, record, steps, deadlines; } Trees;

/* Loads WORKFLOWS five-step workflows, 10,000 per commit: a tokens entry, the record, the step rows,
 * one event and a deadline entry each (at `stamp[id]` = id when `stamp` is given, else at id). */
static void load_workflows(MDB_env *env, const Trees *t, uint64_t workflows, uint64_t *seq, uint64_t *stamp) {
    MDB_txn *txn = NULL;
    unsigned char token[16], idk[8], key[24], rec[64];
    memset(rec, 'x', sizeof rec);
    for (uint64_t id = 0; id < workflows; id++) {
        if (id % 10000 == 0) CHECK(mdb_txn_begin(env, NULL, 0, &txn));
        token_of(id, token); put_be64(idk, id);
        MDB_val tk = {16, token}, tv = {8, idk}, fk = {8, idk}, fv = {64, rec};
        CHECK(mdb_put(txn, t->tokens, &tk, &tv, 0));
        CHECK(mdb_put(txn, t->record, &fk, &fv, MDB_APPEND));
        for (int o = 0; o < STEPS; o++) {
            memcpy(key, idk, 8); key[8] = (unsigned char)o;
            MDB_val k = {9, key}, v = {RECORD, rec};
            CHECK(mdb_put(txn, t->steps, &k, &v, MDB_APPEND));
        }
        memcpy(key, idk, 8); key[8] = 0xFF; put_be64(key + 9, seq[id]++);
        MDB_val hk = {17, key}, hv = {48, rec};
        CHECK(mdb_put(txn, t->steps, &hk, &hv, MDB_APPEND));
        if (stamp) stamp[id] = id;
        put_be64(key, id); memcpy(key + 8, idk, 8); key[16] = 0;
        MDB_val dk = {17, key}, empty = {0, rec};
        CHECK(mdb_put(txn, t->deadlines, &dk, &empty, MDB_APPEND));
        if (id % 10000 == 9999 || id + 1 == workflows) CHECK(mdb_txn_commit(txn));
    }
}

static void append_put(unsigned char *buf, size_t *used, unsigned char dbi, const MDB_val *k, const MDB_val *v);

/* One format-9 step update of workflow `id` in `txn`: the token looked up, the record and the step
 * row rewritten, an event appended; `idk` receives the workflow's ID (8 bytes). With `log`, each put
 * is also appended there (wal_updates()). */
static void update_workflow(MDB_txn *txn, const Trees *t, uint64_t id, uint64_t *seq, unsigned char *log, size_t *used,
                            unsigned char idk[8]) {
    unsigned char token[16], key[24], rec[64];
    memset(rec, 'x', sizeof rec);
    token_of(id, token);
    MDB_val tk = {16, token}, tv;
    CHECK(mdb_get(txn, t->tokens, &tk, &tv));
    memcpy(idk, tv.mv_data, 8);
    MDB_val fk = {8, idk}, fv = {64, rec};
    CHECK(mdb_put(txn, t->record, &fk, &fv, 0));
    if (log) append_put(log, used, 2, &fk, &fv);
    memcpy(key, idk, 8); key[8] = 0;
    MDB_val sk = {9, key}, sv = {RECORD, rec};
    CHECK(mdb_put(txn, t->steps, &sk, &sv, 0));
    if (log) append_put(log, used, 2, &sk, &sv);
    memcpy(key, idk, 8); key[8] = 0xFF; put_be64(key + 9, seq[id]++);
    MDB_val hk = {17, key}, hv = {48, rec};
    CHECK(mdb_put(txn, t->steps, &hk, &hv, 0));
    if (log) append_put(log, used, 2, &hk, &hv);
}

/* The work of one bomflow step update, with no model and no codec: for each of GROUP random
 * workflows per durable commit, look the token up, rewrite the workflow record (64 B, in `steps`
 * at the ID, before the rows) and one step row (48 B), and append one event after the workflow's
 * rows in the same tree (id || 0xFF || sequence -> 48 B): the B-trees a format-9 bomflow update
 * writes (the step's deadline entry stays where it is filed). Without `one_record` the record is
 * in `workflows` (format 8); with `move_deadline` also the format-7 work: the step's deadline entry
 * moved (delete the old key, insert one at "now"). */
static int updates(const char *dir, uint64_t workflows, double seconds, int group, unsigned flags, int move_deadline,
                   int one_record, int recached, const char *disk) {
    MDB_env *env; MDB_dbi tokens, flows, steps, deadlines; MDB_txn *txn;
    mkdir(dir, 0700);
    open_updates_env(dir, flags, &env, &tokens, &flows, &steps, &deadlines);
    uint64_t *stamp = calloc(workflows, sizeof *stamp), *seq = calloc(workflows, sizeof *seq);
    if (!stamp || !seq) { fprintf(stderr, "out of memory\n"); return 1; }
    unsigned char idk[8], key[24], rec[64];
    memset(rec, 'x', sizeof rec);
    Trees trees = {tokens, one_record ? steps : flows, steps, deadlines};
    double started = now_seconds();
    load_workflows(env, &trees, workflows, seq, stamp);
    double loaded = now_seconds() - started;
    if (recached) {
        mdb_env_close(env);
        recache(dir);
        open_updates_env(dir, flags, &env, &tokens, &flows, &steps, &deadlines);
        trees = (Trees){tokens, one_record ? steps : flows, steps, deadlines};
    }
    uint64_t clock = workflows, done = 0, sectors = sectors_written(disk);
    started = now_seconds();
    while (now_seconds() - started < seconds) {
        CHECK(mdb_txn_begin(env, NULL, 0, &txn));
        for (int n = 0; n < group; n++) {
            uint64_t id = next_random() % workflows;
            update_workflow(txn, &trees, id, seq, NULL, NULL, idk);
            if (move_deadline) {
                put_be64(key, stamp[id]); memcpy(key + 8, idk, 8); key[16] = 0;
                MDB_val dk = {17, key};
                CHECK(mdb_del(txn, deadlines, &dk, NULL));
                stamp[id] = ++clock; put_be64(key, stamp[id]);
                MDB_val nk = {17, key}, empty = {0, rec};
                CHECK(mdb_put(txn, deadlines, &nk, &empty, 0));
            }
        }
        CHECK(mdb_txn_commit(txn));
        done += group;
    }
    double elapsed = now_seconds() - started;
    uint64_t written = sectors_written(disk) - sectors;
    printf("{\"impl\":\"raw-lmdb\",\"diskBytesPerUpdate\":%.0f,\"sync\":%s,\"metaSync\":%s,\"deadlineMoved\":%s,\"oneRecord\":%s,\"recached\":%s,\"workflows\":%llu,\"group\":%d,\"loadSeconds\":%.1f,\"updatesPerSecond\":%.0f}\n",
           disk[0] ? written * 512.0 / done : -1.0, flags & MDB_NOSYNC ? "false" : "true", flags ? "false" : "true", move_deadline ? "true" : "false", one_record ? "true" : "false", recached ? "true" : "false", (unsigned long long)workflows, group, loaded, done / elapsed);
    mdb_env_close(env);
    free(stamp); free(seq);
    return 0;
}

/* The write-ahead-log design's cost, not the design: the same format-9 updates, GROUP per
 * commit, applied to LMDB opened with MDB_NOSYNC, and made durable by one sequential append of the
 * group's changes (database, key, value of each put: what a redo replays) to a log file and one
 * fdatasync of the log. A checkpoint every CHECKPOINT seconds (pipelined with the updates, as a
 * server's second thread would run it): the writer pins a reader at the last commit (so that no
 * page of that snapshot is reused until the next checkpoint), copies the two meta pages (the log's
 * record of the checkpoint: the recovery restores the checkpoint's meta page, since a newer
 * unsynced one may reach the disk first), and a second thread runs mdb_env_sync; once it returns
 * the writer appends the checkpoint (the meta pages) to the log with its next group, and once that
 * is synced releases the previous pin and goes on in the other of two log files (a recovery would
 * restore the newest checkpoint's meta page and replay both files' later groups). No recovery (nor the
 * records' checksums) here: it measures the system calls and pages the design costs. One
 * JSON line: updates per second, checkpoints, the map's growth and the disk's written bytes per
 * update (/sys/block/$RAW_LMDB_DISK/stat, when that variable names the data's disk). */
typedef struct { MDB_env *env; pthread_mutex_t lock; pthread_cond_t wake; int requested, done, stop; double took; } Checkpointer;

static void *checkpointer(void *arg) {
    Checkpointer *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->stop) {
        if (!c->requested) { pthread_cond_wait(&c->wake, &c->lock); continue; }
        pthread_mutex_unlock(&c->lock);
        double t = now_seconds();
        CHECK(mdb_env_sync(c->env, 1));
        pthread_mutex_lock(&c->lock);
        c->took += now_seconds() - t;
        c->requested = 0; c->done = 1;
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static void append_put(unsigned char *buf, size_t *used, unsigned char dbi, const MDB_val *k, const MDB_val *v) {
    buf[(*used)++] = dbi;
    buf[(*used)++] = (unsigned char)k->mv_size; memcpy(buf + *used, k->mv_data, k->mv_size); *used += k->mv_size;
    buf[(*used)++] = (unsigned char)v->mv_size; memcpy(buf + *used, v->mv_data, v->mv_size); *used += v->mv_size;
}

static int open_log(const char *dir, int which) {
    char path[4096];
    snprintf(path, sizeof path, "%s/wal.%d", dir, which);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) { perror(path); exit(1); }
    return fd;
}

static void write_all(int fd, const struct iovec *iov, int count) {
    size_t want = 0;
    for (int i = 0; i < count; i++) want += iov[i].iov_len;
    ssize_t wrote = writev(fd, iov, count);
    if (wrote < 0 || (size_t)wrote != want) { perror("wal writev"); exit(1); }
}

static int wal_updates(const char *dir, uint64_t workflows, double seconds, int group, double interval, const char *disk) {
    MDB_env *env; MDB_dbi tokens, flows, steps, deadlines; MDB_txn *txn;
    mkdir(dir, 0700);
    open_updates_env(dir, MDB_NOSYNC, &env, &tokens, &flows, &steps, &deadlines);
    uint64_t *seq = calloc(workflows, sizeof *seq);
    unsigned char *buf = malloc((size_t)group * 256 + 64);
    if (!seq || !buf) { fprintf(stderr, "out of memory\n"); return 1; }
    Trees trees = {tokens, steps, steps, deadlines};
    unsigned char idk[8];
    (void)flows;
    double started = now_seconds();
    load_workflows(env, &trees, workflows, seq, NULL);
    CHECK(mdb_env_sync(env, 1)); /* the load is checkpoint zero */
    double loaded = now_seconds() - started;
    char data_path[4096];
    snprintf(data_path, sizeof data_path, "%s/data.mdb", dir);
    int data_fd = open(data_path, O_RDONLY | O_CLOEXEC);
    if (data_fd < 0) { perror(data_path); return 1; }
    MDB_envinfo info;
    CHECK(mdb_env_info(env, &info));
    size_t first_pages = info.me_last_pgno + 1;
    Checkpointer cp = {.env = env};
    pthread_mutex_init(&cp.lock, NULL); pthread_cond_init(&cp.wake, NULL);
    pthread_t thread;
    if (pthread_create(&thread, NULL, checkpointer, &cp) != 0) { fprintf(stderr, "pthread_create failed\n"); return 1; }
    int which = 0, log = open_log(dir, which);
    MDB_txn *pinned = NULL, *pinning = NULL;
    unsigned char meta[2 * 4096];
    double last_checkpoint = now_seconds();
    uint64_t done = 0, checkpoints = 0, log_bytes = 0, sectors = sectors_written(disk);
    started = now_seconds();
    while (now_seconds() - started < seconds) {
        CHECK(mdb_txn_begin(env, NULL, 0, &txn));
        size_t used = 16;
        for (int n = 0; n < group; n++) {
            update_workflow(txn, &trees, next_random() % workflows, seq, buf, &used, idk);
        }
        put_be64(buf, mdb_txn_id(txn)); put_be64(buf + 8, used);
        CHECK(mdb_txn_commit(txn));
        pthread_mutex_lock(&cp.lock);
        int finished = cp.done;
        cp.done = 0;
        pthread_mutex_unlock(&cp.lock);
        /* After a checkpoint (the pinned snapshot is on disk) the log gets its record, the meta pages,
         * with this group; once that is synced the previous pin goes and the other log file, whose
         * records all precede the new checkpoint, is emptied for the next groups. */
        struct iovec record[2] = {{meta, sizeof meta}, {buf, used}};
        write_all(log, finished ? record : record + 1, finished ? 2 : 1);
        if (fdatasync(log) != 0) { perror("wal fdatasync"); return 1; }
        log_bytes += used;
        if (finished) {
            log_bytes += sizeof meta;
            checkpoints++;
            if (pinned) mdb_txn_abort(pinned);
            pinned = pinning; pinning = NULL;
            close(log);
            which ^= 1; log = open_log(dir, which);
        }
        done += group;
        if (!pinning && now_seconds() - last_checkpoint >= interval) {
            CHECK(mdb_txn_begin(env, NULL, MDB_RDONLY, &pinning));
            if (pread(data_fd, meta, sizeof meta, 0) != (ssize_t)sizeof meta) { perror("meta pread"); return 1; }
            last_checkpoint = now_seconds();
            pthread_mutex_lock(&cp.lock);
            cp.requested = 1;
            pthread_cond_signal(&cp.wake);
            pthread_mutex_unlock(&cp.lock);
        }
    }
    double elapsed = now_seconds() - started;
    uint64_t written = sectors_written(disk) - sectors;
    pthread_mutex_lock(&cp.lock);
    cp.stop = 1;
    pthread_cond_signal(&cp.wake);
    pthread_mutex_unlock(&cp.lock);
    pthread_join(thread, NULL);
    CHECK(mdb_env_info(env, &info));
    printf("{\"impl\":\"raw-lmdb\",\"design\":\"wal\",\"workflows\":%llu,\"group\":%d,\"checkpointSeconds\":%.1f,\"loadSeconds\":%.1f,"
           "\"updatesPerSecond\":%.0f,\"checkpoints\":%llu,\"checkpointSyncSeconds\":%.2f,\"logBytesPerUpdate\":%.0f,"
           "\"mapGrowthPages\":%lld,\"diskBytesPerUpdate\":%.0f}\n",
           (unsigned long long)workflows, group, interval, loaded, done / elapsed, (unsigned long long)checkpoints, cp.took,
           (double)log_bytes / done, (long long)(info.me_last_pgno + 1) - (long long)first_pages,
           disk[0] ? written * 512.0 / done : -1.0);
    if (pinning) mdb_txn_abort(pinning);
    if (pinned) mdb_txn_abort(pinned);
    close(log); close(data_fd);
    mdb_env_close(env);
    free(seq); free(buf);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 6 && strcmp(argv[1], "updates") == 0)
        return updates(argv[2], strtoull(argv[3], NULL, 10), strtod(argv[4], NULL), atoi(argv[5]),
                       argc >= 7 && strcmp(argv[6], "nometasync") == 0 ? MDB_NOMETASYNC
                       : argc >= 7 && strcmp(argv[6], "nosync") == 0 ? MDB_NOSYNC : 0,
                       argc >= 7 && strcmp(argv[6], "formatseven") == 0,
                       !(argc >= 7 && (strcmp(argv[6], "formateight") == 0 || strcmp(argv[6], "formatseven") == 0)),
                       argc >= 7 && strcmp(argv[6], "recached") == 0, getenv("RAW_LMDB_DISK") ? getenv("RAW_LMDB_DISK") : "");
    if (argc >= 7 && strcmp(argv[1], "wal") == 0)
        return wal_updates(argv[2], strtoull(argv[3], NULL, 10), strtod(argv[4], NULL), atoi(argv[5]), strtod(argv[6], NULL),
                           getenv("RAW_LMDB_DISK") ? getenv("RAW_LMDB_DISK") : "");
    if (argc >= 5 && strcmp(argv[1], "bench") == 0) return bench(argv[2], strtoull(argv[3], NULL, 10), strtol(argv[4], NULL, 10));
    if (argc >= 4 && strcmp(argv[1], "layout") == 0) return layout(argv[2], strtoull(argv[3], NULL, 10));
    fprintf(stderr, "usage: raw-lmdb bench DIR WORKFLOWS OPS | raw-lmdb updates DIR WORKFLOWS SECONDS GROUP [nometasync|nosync|formateight|formatseven|recached] | raw-lmdb wal DIR WORKFLOWS SECONDS GROUP CHECKPOINT | raw-lmdb layout DIR WORKFLOWS\n");
    return 2;
}
