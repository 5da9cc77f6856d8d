/* The run record: SHA-256 known answers, atomic writes, safetensors round
 * trips (checked by an independent Python reader too) and rejection of
 * damaged files, run directory create/refuse/force rules, ledger lines,
 * finish statuses, environment and git capture. */
#include "repro/record.h"
#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build_info.h"

static void sha256_known_answers(void)
{
    char hex[65];
    repro_sha256_hex("abc", 3, hex);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    repro_sha256_hex("", 0, hex);
    CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
    /* A million 'a's, fed in uneven pieces through the incremental hasher. */
    char chunk[1000];
    memset(chunk, 'a', sizeof chunk);
    repro_sha256 *h = repro_sha256_new();
    CHECK(h != NULL);
    size_t left = 1000000, piece = 1;
    while (left > 0) {
        size_t n = piece < left ? piece : left;
        repro_sha256_update(h, chunk, n);
        left -= n;
        piece = piece % 997 + 1;
    }
    repro_sha256_final(h, hex);
    CHECK(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
}

static char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 20);
    *n = fread(buf, 1, 1 << 20, f);
    buf[*n] = '\0';
    fclose(f);
    return buf;
}

/* How many entries of dir contain needle in their name. */
static int count_entries(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += strstr(e->d_name, needle) != NULL;
    if (d)
        closedir(d);
    return n;
}

static void atomic_writes(void)
{
    const char *dir = REPRO_TEST_TMP "/atomic";
    mkdir(dir, 0755);
    const char *path = REPRO_TEST_TMP "/atomic/file.txt";
    repro_error err;
    CHECK(repro_write_file_atomic(path, "first version", 13, &err) == REPRO_OK);
    CHECK(repro_write_file_atomic(path, "second", 6, &err) == REPRO_OK);
    size_t n;
    char *text = read_all(path, &n);
    CHECK(text && n == 6 && strcmp(text, "second") == 0);
    free(text);
    CHECK(count_entries(dir, ".tmp.") == 0);
    char hex[65], want[65];
    CHECK(repro_sha256_file(path, hex, &err) == REPRO_OK);
    repro_sha256_hex("second", 6, want);
    CHECK(strcmp(hex, want) == 0);
    CHECK(repro_write_file_atomic(REPRO_TEST_TMP "/no/such/dir/x", "x", 1, &err) == REPRO_ERR_IO);
    CHECK_CONTAINS(err.message, "/no/such/dir/x.tmp.");
    CHECK(repro_sha256_file(REPRO_TEST_TMP "/no/such/file", hex, &err) == REPRO_ERR_IO);
    CHECK_CONTAINS(err.message, "cannot open '" REPRO_TEST_TMP "/no/such/file'");
}

/* Tensors with awkward values and shapes: a matrix, a vector, a scalar and
 * an empty tensor. */
static float g_w[12], g_b[4], g_s[1];
static repro_named_tensor g_tensors[4];

static void make_tensors(void)
{
    uint32_t special[] = {0x7fc00000u, 0x80000000u, 0x7f800000u, 0x00000001u, 0xff7fffffu};
    for (int i = 0; i < 12; i++)
        g_w[i] = (float)i * 0.1f - 0.5f;
    for (int i = 0; i < 4; i++)
        memcpy(&g_b[i], &special[i], 4);
    memcpy(&g_s[0], &special[4], 4);
    repro_named_tensor t[4] = {
        {"layers.0.weight", 2, {3, 4}, g_w},
        {"layers.0.bias", 1, {4}, g_b},
        {"scale", 0, {0}, g_s},
        {"empty", 2, {0, 5}, NULL},
    };
    memcpy(g_tensors, t, sizeof t);
}

static uint64_t bits_sum(const float *x, int64_t n)
{
    uint64_t s = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        s += u;
    }
    return s;
}

static void safetensors_round_trip(const char *path)
{
    const char *keys[] = {"format", "step"}, *values[] = {"pt", "1200"};
    repro_error err;
    CHECK(repro_safetensors_write(path, g_tensors, 4, keys, values, 2, &err) == REPRO_OK);
    /* The header length is a multiple of 8, so the data is 8-aligned. */
    size_t n;
    char *raw = read_all(path, &n);
    uint64_t hlen = 0;
    for (int b = 7; b >= 0; b--)
        hlen = hlen << 8 | (unsigned char)raw[b];
    CHECK(hlen % 8 == 0 && n == 8 + hlen + 4 * (12 + 4 + 1));
    free(raw);

    repro_safetensors *st;
    CHECK(repro_safetensors_read(path, &st, &err) == REPRO_OK);
    CHECK(repro_safetensors_count(st) == 4);
    for (int i = 0; i < 4; i++) {
        CHECK(strcmp(repro_safetensors_name(st, i), g_tensors[i].name) == 0);
        CHECK(repro_safetensors_ndim(st, i) == g_tensors[i].ndim);
        for (int d = 0; d < g_tensors[i].ndim; d++)
            CHECK(repro_safetensors_shape(st, i)[d] == g_tensors[i].shape[d]);
    }
    CHECK(repro_safetensors_numel(st, 0) == 12 && repro_safetensors_numel(st, 2) == 1);
    CHECK(repro_safetensors_numel(st, 3) == 0);
    CHECK_BITS(repro_safetensors_data(st, 0), g_w, 12, "weight");
    CHECK_BITS(repro_safetensors_data(st, 1), g_b, 4, "bias (NaN, -0, inf, denormal)");
    CHECK_BITS(repro_safetensors_data(st, 2), g_s, 1, "scalar");
    CHECK(repro_safetensors_find(st, "scale") == 2 && repro_safetensors_find(st, "nope") == -1);
    CHECK(repro_safetensors_meta_count(st) == 2);
    CHECK(strcmp(repro_safetensors_meta(st, "step"), "1200") == 0);
    CHECK(strcmp(repro_safetensors_meta_key(st, 0), "format") == 0);
    CHECK(strcmp(repro_safetensors_meta_value(st, 0), "pt") == 0);
    CHECK(repro_safetensors_meta(st, "missing") == NULL);
    repro_safetensors_free(st);

    repro_named_tensor twice[2] = {g_tensors[0], g_tensors[0]};
    CHECK(repro_safetensors_write(path, twice, 2, NULL, NULL, 0, &err) == REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "'layers.0.weight' appears twice");
}

/* The file written above, read by tests/read_safetensors.py (numpy). */
static void safetensors_python(const char *path)
{
    if (access("/usr/bin/python3", X_OK) != 0) {
        printf("skipping the Python reader check: /usr/bin/python3 is missing\n");
        return;
    }
    if (system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0) {
        printf("skipping the Python reader check: numpy is not importable by /usr/bin/python3\n");
        return;
    }
    char cmd[4096], out[8192] = "", line[512];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/read_safetensors.py %s", REPRO_SOURCE_DIR, path);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    while (p && fgets(line, sizeof line, p))
        strncat(out, line, sizeof out - strlen(out) - 1);
    CHECK(p && pclose(p) == 0);
    char want[512];
    CHECK_CONTAINS(out, "meta format=pt\nmeta step=1200\n");
    snprintf(want, sizeof want, "tensor layers.0.weight dtype=F32 shape=[3,4] bits_sum=%llu\n",
             (unsigned long long)bits_sum(g_w, 12));
    CHECK_CONTAINS(out, want);
    snprintf(want, sizeof want, "tensor layers.0.bias dtype=F32 shape=[4] bits_sum=%llu\n",
             (unsigned long long)bits_sum(g_b, 4));
    CHECK_CONTAINS(out, want);
    snprintf(want, sizeof want, "tensor scale dtype=F32 shape=[] bits_sum=%llu\n",
             (unsigned long long)bits_sum(g_s, 1));
    CHECK_CONTAINS(out, want);
    CHECK_CONTAINS(out, "tensor empty dtype=F32 shape=[0,5] bits_sum=0\n");
}

/* Writes a safetensors file by hand: header text (padded to 8) then n_data
 * zero bytes. */
static void write_raw(const char *path, const char *header, size_t n_data, uint64_t claimed_len)
{
    size_t h = strlen(header), padded = (h + 7) / 8 * 8;
    uint64_t len = claimed_len ? claimed_len : padded;
    FILE *f = fopen(path, "wb");
    for (int b = 0; b < 8; b++)
        fputc((int)(len >> (8 * b)) & 255, f);
    fputs(header, f);
    for (size_t i = h; i < padded; i++)
        fputc(' ', f);
    for (size_t i = 0; i < n_data; i++)
        fputc(0, f);
    fclose(f);
}

static void expect_rejected(const char *path, const char *message)
{
    repro_safetensors *st = NULL;
    repro_error err;
    repro_error_clear(&err);
    CHECK(repro_safetensors_read(path, &st, &err) == REPRO_ERR_FORMAT);
    CHECK(st == NULL);
    CHECK_CONTAINS(err.message, path);
    CHECK_CONTAINS(err.message, message);
}

static void safetensors_rejects(const char *good)
{
    const char *bad = REPRO_TEST_TMP "/bad.safetensors";
    size_t n;
    char *raw = read_all(good, &n);
    FILE *f = fopen(bad, "wb");
    fwrite(raw, 1, 5, f);
    fclose(f);
    expect_rejected(bad, "is truncated: 5 bytes");
    f = fopen(bad, "wb");
    fwrite(raw, 1, n - 4, f); /* the last tensor loses its last float */
    fclose(f);
    expect_rejected(bad, "tensor 'scale' data_offsets [64, 68] lie beyond the data (64 bytes)");
    free(raw);

    write_raw(bad, "{}", 0, 1000);
    expect_rejected(bad, "header length 1000 runs beyond the end of the file (16 bytes)");
    write_raw(bad, "{\"x\": {\"dtype\": \"F32\",", 0, 0);
    expect_rejected(bad, "the header is not valid JSON");
    write_raw(bad, "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,16]}}", 8, 0);
    expect_rejected(bad, "tensor 'x' data_offsets [0, 16] lie beyond the data (8 bytes)");
    write_raw(bad, "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, 0);
    expect_rejected(bad, "tensor 'x' has 8 bytes of data but its shape needs 12");
    write_raw(bad, "{\"x\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]}}", 8, 0);
    expect_rejected(bad, "tensor 'x' has dtype F16; only F32 is supported");
    write_raw(bad, "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12, 0);
    expect_rejected(bad, "tensors cover 8 bytes of data but the file holds 12");
    write_raw(bad,
              "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, 0);
    expect_rejected(bad, "tensor 'y' starts at byte 4 of the data, expected 8");
    write_raw(bad, "{\"__metadata__\":{\"k\":1}}", 0, 0);
    expect_rejected(bad, "metadata 'k' is not a string");
    /* found by fuzz_safetensors (a leak: the second replaced the first) */
    write_raw(bad, "{\"__metadata__\":{\"k\":\"v\"},\"__metadata__\":{\"k\":\"v\"}}", 0, 0);
    expect_rejected(bad, "\"__metadata__\" appears twice");
    write_raw(bad, "{}xyz", 0, 0);
    expect_rejected(bad, "bytes other than spaces after its JSON");

    /* Accepted: an empty tensor sharing offset 0 with a full one, listed after it. */
    write_raw(bad,
              "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", 8, 0);
    repro_safetensors *st;
    repro_error err;
    CHECK_MSG(repro_safetensors_read(bad, &st, &err) == REPRO_OK, "%s", err.message);
    if (st) {
        CHECK(repro_safetensors_count(st) == 2 && repro_safetensors_numel(st, 1) == 0);
        repro_safetensors_free(st);
    }
}

static cJSON *load_record(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/run.json", dir);
    cJSON *j = NULL;
    repro_error err;
    CHECK_MSG(repro_json_read_file(path, &j, &err) == REPRO_OK, "%s", err.message);
    return j;
}

static const char *record_string(const cJSON *record, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(record, key));
    return s ? s : "(none)";
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void run_ledger_and_finish(const char *dir)
{
    repro_run *run;
    repro_error err;
    CHECK_MSG(repro_run_create(dir, 0, &run, &err) == REPRO_OK, "%s", err.message);
    cJSON *rec = load_record(dir);
    CHECK(strcmp(record_string(rec, "status"), "running") == 0);
    CHECK(strcmp(record_string(rec, "format"), "repro-run/1") == 0);
    cJSON_Delete(rec);
    CHECK(strcmp(repro_run_dir(run), dir) == 0);

    cJSON *config = cJSON_CreateObject();
    cJSON_AddNumberToObject(config, "seed", 7);
    CHECK(repro_run_set_json(run, "config", config, &err) == REPRO_OK);
    config = cJSON_CreateObject();
    cJSON_AddNumberToObject(config, "seed", 8);
    CHECK(repro_run_set_json(run, "config", config, &err) == REPRO_OK); /* replaces in place */
    CHECK(repro_run_set_json(run, "status", cJSON_CreateString("x"), &err) == REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "'status' is set by the run itself");

    float loss, lr;
    uint32_t u = 0x3f8c0000u, v = 0x3a83126fu;
    memcpy(&loss, &u, 4);
    memcpy(&lr, &v, 4);
    char ph[65], oh[65];
    repro_sha256_hex("params", 6, ph);
    repro_sha256_hex("optim", 5, oh);
    CHECK(repro_run_ledger(run, 12, 0, loss, lr, NULL, NULL, &err) == REPRO_OK);
    CHECK(repro_run_ledger(run, 13, 1, 2.5f, lr, ph, oh, &err) == REPRO_OK);
    CHECK(repro_run_ledger(run, 14, 1, 2.5f, lr, "not-a-hash", NULL, &err) == REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "'not-a-hash' is not a SHA-256 hex digest");
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "epoch", 0);
    cJSON_AddNumberToObject(m, "accuracy", 0.5);
    CHECK(repro_run_metrics(run, m, &err) == REPRO_OK);

    /* Lines are whole and flushed before the run ends. */
    char path[1024];
    snprintf(path, sizeof path, "%s/ledger.jsonl", dir);
    size_t n;
    char *text = read_all(path, &n);
    CHECK_CONTAINS(text, "{\"step\":12,\"epoch\":0,\"loss\":\"0x3f8c0000\",\"loss_dec\":\"1.09375\","
                         "\"lr\":\"0x3a83126f\"}\n");
    free(text);
    repro_ledger_entry *e;
    int64_t count;
    CHECK_MSG(repro_ledger_read(path, &e, &count, &err) == REPRO_OK, "%s", err.message);
    CHECK(count == 2);
    if (count == 2) {
        CHECK(e[0].step == 12 && e[0].epoch == 0 && e[0].loss_bits == u && e[0].lr_bits == v);
        CHECK(e[0].params_sha256[0] == '\0' && e[1].line == 2);
        CHECK(strcmp(e[1].params_sha256, ph) == 0 && strcmp(e[1].optim_sha256, oh) == 0);
        CHECK(e[1].loss_bits == 0x40200000u);
    }
    free(e);
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    text = read_all(path, &n);
    CHECK(strcmp(text, "{\"epoch\":0,\"accuracy\":0.5}\n") == 0);
    free(text);

    CHECK(repro_run_finish(run, "complete", NULL, &err) == REPRO_OK);
    rec = load_record(dir);
    CHECK(strcmp(record_string(rec, "status"), "complete") == 0);
    CHECK(strlen(record_string(rec, "end_time")) == 20);
    CHECK(cJSON_GetObjectItemCaseSensitive(rec, "message") == NULL);
    cJSON *seed = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rec, "config"), "seed");
    CHECK(cJSON_GetNumberValue(seed) == 8);
    cJSON_Delete(rec);

    /* What the library wrote, `repro diff` reads: a run equals itself. */
    cJSON *report;
    CHECK_MSG(repro_run_compare(dir, dir, &report, &err) == REPRO_OK, "%s", err.message);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(report, "identical")));
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(report, "record_differences")) == 0);
    cJSON_Delete(report);
}

static void ledger_damage(void)
{
    const char *path = REPRO_TEST_TMP "/damaged.jsonl";
    const char *line = "{\"step\":1,\"epoch\":0,\"loss\":\"0x3f800000\",\"lr\":\"0x3a83126f\"}\n";
    char text[1024];
    repro_ledger_entry *e;
    int64_t n;
    repro_error err;
    snprintf(text, sizeof text, "%s{\"step\":2,\"epoch\":0,\"loss\":1.5,\"lr\":\"0x3a83126f\"}\n", line);
    write_text(path, text);
    CHECK(repro_ledger_read(path, &e, &n, &err) == REPRO_ERR_FORMAT);
    CHECK_CONTAINS(err.message, REPRO_TEST_TMP "/damaged.jsonl:2: missing or invalid \"loss\"");
    snprintf(text, sizeof text, "%s{\"step\":2,\"ep", line);
    write_text(path, text);
    CHECK(repro_ledger_read(path, &e, &n, &err) == REPRO_ERR_FORMAT);
    CHECK_CONTAINS(err.message, "damaged.jsonl:2: the last line is cut short");
    snprintf(text, sizeof text, "%snot json\n%s", line, line);
    write_text(path, text);
    CHECK(repro_ledger_read(path, &e, &n, &err) == REPRO_ERR_FORMAT);
    CHECK_CONTAINS(err.message, "damaged.jsonl:2: not a JSON object");
    /* found by fuzz/fuzz_ledger.c: an integer beyond int64_t (its conversion
     * was undefined behaviour, reported by UBSan in make test-asan) */
    snprintf(text, sizeof text, "%s{\"step\":2,\"epoch\":08888888888888888888888888888888888888,"
             "\"loss\":\"0x3f800000\",\"lr\":\"0x3a83126f\"}\n", line);
    write_text(path, text);
    CHECK(repro_ledger_read(path, &e, &n, &err) == REPRO_ERR_FORMAT);
    CHECK_CONTAINS(err.message, "damaged.jsonl:2: missing or invalid \"epoch\"");
    snprintf(text, sizeof text, "%s{\"step\":-9.3e18,\"epoch\":0,\"loss\":\"0x3f800000\",\"lr\":\"0x3a83126f\"}\n",
             line);
    write_text(path, text);
    CHECK(repro_ledger_read(path, &e, &n, &err) == REPRO_ERR_FORMAT);
    CHECK_CONTAINS(err.message, "damaged.jsonl:2: missing or invalid \"step\"");
}

static void finish_statuses(const char *dir)
{
    static const char *const statuses[] = {"failed", "interrupted"};
    repro_run *run;
    repro_error err;
    for (int i = 0; i < 2; i++) {
        /* Failed and interrupted runs are reused without --force. */
        CHECK_MSG(repro_run_create(dir, i == 0, &run, &err) == REPRO_OK, "%s", err.message);
        CHECK(repro_run_finish(run, statuses[i], "stopped by test", &err) == REPRO_OK);
        cJSON *rec = load_record(dir);
        CHECK(strcmp(record_string(rec, "status"), statuses[i]) == 0);
        CHECK(strcmp(record_string(rec, "message"), "stopped by test") == 0);
        CHECK(cJSON_GetObjectItemCaseSensitive(rec, "config") == NULL); /* a fresh record */
        cJSON_Delete(rec);
    }
    CHECK(repro_run_create(dir, 0, &run, &err) == REPRO_OK);
    CHECK(repro_run_finish(run, "done", NULL, &err) == REPRO_ERR_ARG);
    CHECK_CONTAINS(err.message, "invalid status 'done'");
    cJSON *rec = load_record(dir);
    CHECK(strcmp(record_string(rec, "status"), "failed") == 0);
    cJSON_Delete(rec);
}

/* A record claiming "running" for pid on this host. */
static void fake_running(const char *dir, long pid)
{
    char host[256] = "", path[1024], text[1024];
    gethostname(host, sizeof host - 1);
    snprintf(path, sizeof path, "%s/run.json", dir);
    snprintf(text, sizeof text, "{\"status\":\"running\",\"pid\":%ld,\"hostname\":\"%s\"}\n", pid, host);
    write_text(path, text);
}

static void run_create_rules(void)
{
    const char *dir = REPRO_TEST_TMP "/runs/nested/a";
    run_ledger_and_finish(dir);
    repro_run *run = NULL;
    repro_error err;
    CHECK(repro_run_create(dir, 0, &run, &err) == REPRO_ERR_STATE && run == NULL);
    CHECK(strcmp(err.message, "'" REPRO_TEST_TMP "/runs/nested/a' already holds a complete run; "
                              "use --force to overwrite") == 0);
    finish_statuses(dir);
    char path[1024];
    snprintf(path, sizeof path, "%s/ledger.jsonl", dir);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && sb.st_size == 0); /* the old ledger was cleared */

    fake_running(dir, (long)getppid());
    CHECK(repro_run_create(dir, 0, &run, &err) == REPRO_ERR_STATE);
    CHECK_CONTAINS(err.message, "holds a run in progress");
    fake_running(dir, 2147483000L); /* no such process: a crashed run */
    CHECK_MSG(repro_run_create(dir, 0, &run, &err) == REPRO_OK, "%s", err.message);
    CHECK(repro_run_finish(run, "failed", NULL, &err) == REPRO_OK);

    const char *other = REPRO_TEST_TMP "/runs/not-a-run";
    mkdir(other, 0755);
    write_text(REPRO_TEST_TMP "/runs/not-a-run/notes.txt", "keep me");
    write_text(REPRO_TEST_TMP "/runs/not-a-run/model.safetensors", "stale");
    write_text(REPRO_TEST_TMP "/runs/not-a-run/run.json.tmp.123", "left by a crash");
    write_text(REPRO_TEST_TMP "/runs/not-a-run/data.tmp.csv", "keep me too");
    write_text(REPRO_TEST_TMP "/runs/not-a-run/pretrained.safetensors", "the user's");
    write_text(REPRO_TEST_TMP "/runs/not-a-run/notes.tmp.123", "an editor's");
    CHECK(repro_run_create(other, 0, &run, &err) == REPRO_ERR_STATE);
    CHECK(strcmp(err.message, "'" REPRO_TEST_TMP "/runs/not-a-run' exists and is not empty") == 0);
    CHECK(access(REPRO_TEST_TMP "/runs/not-a-run/run.lock", F_OK) != 0); /* a refusal leaves no mark */
    /* no run made this directory: --force writes beside its files, never over them */
    CHECK(repro_run_create(other, 1, &run, &err) == REPRO_ERR_STATE);
    CHECK_CONTAINS(err.message, "its 'model.safetensors' has the name of a run's file");
    CHECK(access(REPRO_TEST_TMP "/runs/not-a-run/model.safetensors", F_OK) == 0);
    CHECK(unlink(REPRO_TEST_TMP "/runs/not-a-run/model.safetensors") == 0);
    CHECK_MSG(repro_run_create(other, 1, &run, &err) == REPRO_OK, "%s", err.message);
    /* a second run on a live one's directory: refused, naming its pid, even with force */
    repro_run *second = NULL;
    CHECK(repro_run_create(other, 1, &second, &err) == REPRO_ERR_STATE && second == NULL);
    char want[64];
    snprintf(want, sizeof want, "holds a run in progress (pid %ld)", (long)getpid());
    CHECK_CONTAINS(err.message, want);
    CHECK(repro_run_finish(run, "complete", NULL, &err) == REPRO_OK);
    CHECK(access(REPRO_TEST_TMP "/runs/not-a-run/notes.txt", F_OK) == 0);
    CHECK(access(REPRO_TEST_TMP "/runs/not-a-run/run.json.tmp.123", F_OK) == 0);
    CHECK(access(REPRO_TEST_TMP "/runs/not-a-run/data.tmp.csv", F_OK) == 0);
    CHECK(access(REPRO_TEST_TMP "/runs/not-a-run/pretrained.safetensors", F_OK) == 0);
    CHECK(access(REPRO_TEST_TMP "/runs/not-a-run/notes.tmp.123", F_OK) == 0);
    /* now a run directory: reusing it removes the run's files, and only those */
    write_text(REPRO_TEST_TMP "/runs/not-a-run/ckpt-00000007.safetensors", "a run's");
    write_text(REPRO_TEST_TMP "/runs/not-a-run/ckpt-00000007.safetensors.tmp.99", "a run's");
    CHECK_MSG(repro_run_create(other, 1, &run, &err) == REPRO_OK, "%s", err.message);
    CHECK(repro_run_finish(run, "complete", NULL, &err) == REPRO_OK);
    CHECK(access(REPRO_TEST_TMP "/runs/not-a-run/ckpt-00000007.safetensors", F_OK) != 0);
    CHECK(access(REPRO_TEST_TMP "/runs/not-a-run/ckpt-00000007.safetensors.tmp.99", F_OK) != 0);
    CHECK(access(REPRO_TEST_TMP "/runs/not-a-run/pretrained.safetensors", F_OK) == 0);
    CHECK(access(REPRO_TEST_TMP "/runs/not-a-run/notes.tmp.123", F_OK) == 0);
    CHECK(access(REPRO_TEST_TMP "/runs/not-a-run/data.tmp.csv", F_OK) == 0);

    write_text(REPRO_TEST_TMP "/runs/a-file", "x");
    CHECK(repro_run_create(REPRO_TEST_TMP "/runs/a-file", 1, &run, &err) == REPRO_ERR_IO);
    CHECK_CONTAINS(err.message, "a-file' exists and is not a directory");
}

static void environment(void)
{
    cJSON *env = repro_env_capture("avx2");
    CHECK(env != NULL);
    const cJSON *repro = cJSON_GetObjectItemCaseSensitive(env, "repro");
    CHECK(strcmp(record_string(repro, "version"), REPRO_VERSION_STRING) == 0);
    CHECK(strcmp(record_string(repro, "git_commit"), REPRO_GIT_COMMIT) == 0);
    CHECK(strcmp(record_string(env, "isa_path"), "avx2") == 0);
    const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(env, "cpu");
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cpu, "online_cpus")) >= 1);
    const cJSON *libs = cJSON_GetObjectItemCaseSensitive(env, "libraries");
    CHECK(strcmp(record_string(libs, "cjson"), cJSON_Version()) == 0);
    CHECK(strlen(record_string(libs, "openssl")) > 7);
    cJSON_Delete(env);

    if (system("git --version >/dev/null 2>&1") != 0) {
        printf("skipping the git checks: git is not installed\n");
        return;
    }
    cJSON *git = repro_git_info(REPRO_SOURCE_DIR "/CMakeLists.txt");
    CHECK(git != NULL);
    const char *commit = record_string(git, "commit");
    CHECK(strlen(commit) == 40 && strspn(commit, "0123456789abcdef") == 40);
    CHECK(cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(git, "dirty")));
    cJSON_Delete(git);
    CHECK(repro_git_info("/proc/self") == NULL); /* not in a work tree */
}

/* The note for a run.json left "running": its pid, or none when the file
 * names none a process could have (fuzz/corpus/runjson/
 * running_pid_out_of_range.json: converting -9e99 to a pid was undefined). */
static void stale_notes(void)
{
    const char *dir = REPRO_TEST_TMP "/runs/stale";
    char note[1024];
    mkdir(dir, 0755);
    write_text(REPRO_TEST_TMP "/runs/stale/run.json", "{\"status\":\"running\",\"pid\":-9e99,\"hostname\":\"x\"}");
    CHECK(repro_run_stale_note(dir, note, sizeof note) == 1);
    CHECK_MSG(strcmp(note, "run.json of '" REPRO_TEST_TMP "/runs/stale' still says \"running\", but names no "
                           "process that could still be training it (killed, crashed, or the machine stopped)") == 0,
              "%s", note);
    write_text(REPRO_TEST_TMP "/runs/stale/run.json", "{\"status\":\"running\",\"pid\":4321,\"hostname\":\"x\"}");
    CHECK(repro_run_stale_note(dir, note, sizeof note) == 1);
    CHECK_CONTAINS(note, "but its process (pid 4321) is gone without recording how the run ended");
    write_text(REPRO_TEST_TMP "/runs/stale/run.json", "{\"status\":\"complete\",\"pid\":4321,\"hostname\":\"x\"}");
    CHECK(repro_run_stale_note(dir, note, sizeof note) == 0);
}

/* A resume judges a run.json left "running" by its run.lock when it has
 * one: a lock that is free means the trainer is gone, even while its pid
 * still answers (a rank of a stopped mpirun job, exiting or unreaped: CI saw
 * "still being trained" there). Without run.lock (a run from before it),
 * by the pid. The live process here is this test's parent. */
static void resume_liveness(void)
{
    const char *dir = REPRO_TEST_TMP "/runs/unreaped";
    char host[256] = "", json[512], want[128];
    gethostname(host, sizeof host - 1);
    mkdir(dir, 0755);
    snprintf(json, sizeof json, "{\"status\":\"running\",\"pid\":%ld,\"hostname\":\"%s\"}", (long)getppid(), host);
    write_text(REPRO_TEST_TMP "/runs/unreaped/run.json", json);
    write_text(REPRO_TEST_TMP "/runs/unreaped/ledger.jsonl", "");
    write_text(REPRO_TEST_TMP "/runs/unreaped/metrics.jsonl", "");
    repro_run *run = NULL;
    repro_error err;
    CHECK(repro_run_resume(dir, 0, 0, &run, &err) == REPRO_ERR_STATE && run == NULL);
    snprintf(want, sizeof want, "is still being trained (pid %ld)", (long)getppid());
    CHECK_CONTAINS(err.message, want);
    /* the resume that failed left its run.lock: now the run has one, free */
    CHECK(access(REPRO_TEST_TMP "/runs/unreaped/run.lock", F_OK) == 0);
    CHECK_MSG(repro_run_resume(dir, 0, 0, &run, &err) == REPRO_OK, "%s", err.message);
    CHECK(repro_run_finish(run, "complete", NULL, &err) == REPRO_OK);
}

int main(void)
{
    mkdir(REPRO_TEST_TMP, 0755);
    /* Start from nothing, so a rerun sees the same directories. */
    CHECK(system("rm -rf '" REPRO_TEST_TMP "/runs' '" REPRO_TEST_TMP "/atomic'") == 0);
    sha256_known_answers();
    atomic_writes();
    make_tensors();
    const char *st_path = REPRO_TEST_TMP "/roundtrip.safetensors";
    safetensors_round_trip(st_path);
    safetensors_python(st_path);
    safetensors_rejects(st_path);
    ledger_damage();
    run_create_rules();
    stale_notes();
    resume_liveness();
    environment();
    return test_finish("test_record");
}
