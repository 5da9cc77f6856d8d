/* The run directory: creation (with the refuse/reuse/force rules), the run
 * record run.json rewritten atomically whenever a section changes, and the
 * append-only ledger.jsonl and metrics.jsonl, written a whole line at a time
 * (a line that fails to go down whole is cut back off) so a crash leaves
 * whole lines. A live run holds DIR/run.lock (record/run_lock.h). Layout
 * and fields: docs/run-directory.md. */
#include "repro/record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "record/io.h"
#include "record/run_lock.h"

struct repro_run {
    char *dir;
    cJSON *record;         /* run.json as last written */
    int ledger, metrics;   /* append-only, -1 when closed */
    off_t ledger_size, metrics_size; /* their whole lines: a failed append is cut back to this */
    int lock;              /* DIR/run.lock, held while the run lives */
};

const char *repro_run_dir(const repro_run *run) { return run->dir; }

static repro_status join_path(const char *dir, const char *name, char *buf, size_t size,
                              repro_error *err)
{
    int n = snprintf(buf, size, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= size)
        return repro_fail(err, REPRO_ERR_ARG, "path '%s/%s' is too long", dir, name);
    return REPRO_OK;
}

repro_status repro_run_path(const repro_run *run, const char *name, char *buf, size_t size,
                            repro_error *err)
{
    return join_path(run->dir, name, buf, size, err);
}

/* Like `mkdir -p`. */
static repro_status make_dirs(const char *dir, repro_error *err)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return repro_fail(err, REPRO_ERR_ARG, "path '%s' is too long", dir);
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return repro_fail(err, REPRO_ERR_IO, "cannot create directory '%s': %s", path,
                              strerror(errno));
        *p = c;
        if (c == '\0')
            break;
    }
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return repro_fail(err, REPRO_ERR_IO, "'%s' exists and is not a directory", dir);
    return REPRO_OK;
}

/* The files a run writes, and so the only ones it ever removes: run.json,
 * ledger.jsonl, metrics.jsonl, model.safetensors and ckpt-<8 digits>.safetensors
 * (the manifest of a run directory, docs/run-directory.md). run.lock is
 * the run's too, but stays: it is the lock. */
static int is_run_name(const char *name, size_t n)
{
    static const char *const fixed[] = {"run.json", "ledger.jsonl", "metrics.jsonl", "model.safetensors"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        if (n == strlen(fixed[i]) && strncmp(name, fixed[i], n) == 0)
            return 1;
    return n == strlen("ckpt-00000000.safetensors") && strncmp(name, "ckpt-", 5) == 0 &&
           strspn(name + 5, "0123456789") == 8 && strncmp(name + 13, ".safetensors", 12) == 0;
}

/* A temporary file an interrupted atomic write of a run file left:
 * NAME.tmp.<pid>, NAME a run file's. */
static int is_atomic_leftover(const char *name)
{
    const char *tmp = strstr(name, ".tmp.");
    return tmp && tmp[5] != '\0' && strspn(tmp + 5, "0123456789") == strlen(tmp + 5) &&
           is_run_name(name, (size_t)(tmp - name));
}

static int is_run_file(const char *name)
{
    return is_run_name(name, strlen(name)) || is_atomic_leftover(name);
}

/* The order --force clears an old run in, so that a kill at any moment
 * leaves a directory that tells the truth: the checkpoints (and interrupted
 * atomic writes) first, then run.json, then the logs and the model. A kill
 * part-way never leaves checkpoints without the record that says what they
 * are (--resume would fail on them), nor a record that says "complete"
 * over a model and ledger already gone (tests/test_kill9.sh took such a
 * directory for a finished run). What it can leave is the old logs beside
 * run.lock, which marks the directory as a run's: --resume says there is
 * no run.json, and --force clears it. */
static int clear_phase(const char *name)
{
    if (is_atomic_leftover(name) || strncmp(name, "ckpt-", 5) == 0)
        return 0;
    return strcmp(name, "run.json") == 0 ? 1 : 2;
}

/* Scans dir (run.lock aside): whether it has any other entry, the first
 * that has a run file's name (into clash, when not NULL), and (when clear)
 * removes the run files, in clear_phase's order. */
static repro_status scan_dir(const char *dir, int clear, int *nonempty, char *clash, size_t clash_size,
                             repro_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return repro_fail(err, REPRO_ERR_IO, "cannot read directory '%s': %s", dir, strerror(errno));
    *nonempty = 0;
    if (clash)
        clash[0] = '\0';
    repro_status st = REPRO_OK;
    for (int phase = 0; st == REPRO_OK && phase < (clear ? 3 : 1); phase++) {
        rewinddir(d);
        struct dirent *e;
        while (st == REPRO_OK && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || strcmp(e->d_name, "run.lock") == 0)
                continue;
            *nonempty = 1;
            if (clash && !clash[0] && is_run_name(e->d_name, strlen(e->d_name)))
                snprintf(clash, clash_size, "%s", e->d_name);
            if (!clear || !is_run_file(e->d_name) || clear_phase(e->d_name) != phase)
                continue;
            char path[4096];
            st = join_path(dir, e->d_name, path, sizeof path, err);
            if (st == REPRO_OK && unlink(path) != 0)
                st = repro_fail(err, REPRO_ERR_IO, "cannot remove '%s': %s", path, strerror(errno));
        }
    }
    closedir(d);
    return st;
}

/* Removes the temporary files of atomic writes a killed process left in dir
 * (NAME.tmp.<pid>): called once no live process can own them. */
static repro_status remove_leftovers(const char *dir, repro_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return repro_fail(err, REPRO_ERR_IO, "cannot read directory '%s': %s", dir, strerror(errno));
    repro_status st = REPRO_OK;
    struct dirent *e;
    while (st == REPRO_OK && (e = readdir(d)) != NULL) {
        char path[4096];
        if (!is_atomic_leftover(e->d_name))
            continue;
        st = join_path(dir, e->d_name, path, sizeof path, err);
        if (st == REPRO_OK && unlink(path) != 0 && errno != ENOENT)
            st = repro_fail(err, REPRO_ERR_IO, "cannot remove '%s': %s", path, strerror(errno));
    }
    closedir(d);
    return st;
}

/* Whether a record saying "running" belongs to a process still alive here. */
/* The "pid" of a run.json, or 0 when it is missing or not a process id.
 * The range comes before the conversion: converting a double outside it
 * is undefined (found by fuzz/fuzz_runjson.c: "pid":-9e99). */
static long record_pid(const cJSON *record)
{
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(record, "pid");
    if (!cJSON_IsNumber(pid) || !(pid->valuedouble >= 1 && pid->valuedouble <= 2147483647.0))
        return 0;
    return (long)pid->valuedouble;
}

static int run_is_live(const cJSON *record)
{
    const cJSON *host = cJSON_GetObjectItemCaseSensitive(record, "hostname");
    char here[256] = "";
    gethostname(here, sizeof here - 1);
    long pid = record_pid(record);
    if (pid == 0 || !cJSON_IsString(host) || strcmp(host->valuestring, here) != 0)
        return 0;
    pid_t p = (pid_t)pid;
    return p != getpid() && (kill(p, 0) == 0 || errno == EPERM);
}

/* Applies the rules of repro_run_create to an existing directory;
 * is_run: it holds run.json or run.lock (a run made it). */
static repro_status check_existing(const char *dir, int force, int is_run, repro_error *err)
{
    char path[4096];
    repro_status st = join_path(dir, "run.json", path, sizeof path, err);
    if (st != REPRO_OK)
        return st;
    int nonempty;
    if (access(path, F_OK) != 0) {
        char clash[256];
        st = scan_dir(dir, 0, &nonempty, clash, sizeof clash, err);
        if (st == REPRO_OK && nonempty && !force)
            st = repro_fail(err, REPRO_ERR_STATE, "'%s' exists and is not empty", dir);
        else if (st == REPRO_OK && !is_run && clash[0]) /* --force writes beside the user's files, never over them */
            st = repro_fail(err, REPRO_ERR_STATE, "'%s' holds no run, but its '%s' has the name of a run's file; "
                            "--force does not overwrite files a run did not write: move it, or choose another "
                            "directory", dir, clash);
        return st;
    }
    cJSON *record;
    repro_error perr;
    if (repro_json_read_file(path, &record, &perr) != REPRO_OK) {
        if (!force)
            return repro_fail(err, REPRO_ERR_STATE, "'%s' holds an unreadable run record (%s); "
                              "use --force to overwrite", dir, perr.message);
        return REPRO_OK;
    }
    const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(record, "status"));
    if (!force && status && strcmp(status, "complete") == 0)
        st = repro_fail(err, REPRO_ERR_STATE,
                        "'%s' already holds a complete run; use --force to overwrite", dir);
    else if (!force && status && strcmp(status, "running") == 0 && run_is_live(record))
        st = repro_fail(err, REPRO_ERR_STATE,
                        "'%s' holds a run in progress (pid %ld); use --force to overwrite", dir,
                        record_pid(record));
    cJSON_Delete(record);
    return st;
}

/* Now as ISO 8601 UTC, e.g. "2024-05-01T12:00:00Z". */
static cJSON *timestamp_now(void)
{
    char buf[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return cJSON_CreateString(buf);
}

static repro_status write_final_record(repro_run *run, repro_error *err);

static repro_status write_record(repro_run *run, repro_error *err)
{
    char path[4096];
    repro_status st = repro_run_path(run, "run.json", path, sizeof path, err);
    if (st != REPRO_OK)
        return st;
    char *text = cJSON_Print(run->record);
    if (!text)
        return repro_fail(err, REPRO_ERR_NOMEM, "out of memory writing '%s'", path);
    size_t n = strlen(text);
    char *line = repro_io_realloc(text, n + 2);
    if (!line) {
        free(text);
        return repro_fail(err, REPRO_ERR_NOMEM, "out of memory writing '%s'", path);
    }
    memcpy(line + n, "\n", 2);
    st = repro_write_file_atomic(path, line, n + 1, err);
    free(line);
    return st;
}

/* Sets key in the record, replacing an earlier value in place. */
static int record_put(cJSON *record, const char *key, cJSON *value)
{
    if (!value)
        return 0;
    if (cJSON_GetObjectItemCaseSensitive(record, key))
        return cJSON_ReplaceItemInObjectCaseSensitive(record, key, value);
    return cJSON_AddItemToObject(record, key, value);
}

/* Opens DIR/name for appending whole lines: created empty (trunc), or as it
 * is; *size its length. */
static repro_status open_log(repro_run *run, const char *name, int trunc, int *fd, off_t *size, repro_error *err)
{
    char path[4096];
    repro_status st = repro_run_path(run, name, path, sizeof path, err);
    if (st != REPRO_OK)
        return st;
    *fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | (trunc ? O_TRUNC : 0), 0644);
    if (*fd < 0)
        return repro_fail(err, REPRO_ERR_IO, "cannot %s '%s': %s", trunc ? "create" : "append to", path,
                          strerror(errno));
    struct stat sb;
    *size = fstat(*fd, &sb) == 0 ? sb.st_size : 0;
    return REPRO_OK;
}

static repro_run *run_new(const char *dir)
{
    repro_run *run = repro_io_calloc(1, sizeof *run);
    if (!run)
        return NULL;
    run->ledger = run->metrics = run->lock = -1;
    if (!(run->dir = repro_io_strdup(dir))) {
        free(run);
        return NULL;
    }
    return run;
}

static void run_free(repro_run *run)
{
    if (run->ledger >= 0)
        close(run->ledger);
    if (run->metrics >= 0)
        close(run->metrics);
    if (run->lock >= 0)
        close(run->lock); /* releases the lock */
    cJSON_Delete(run->record);
    free(run->dir);
    free(run);
}

static repro_status start_run(repro_run *run, repro_error *err)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    int ok = record_put(run->record, "format", cJSON_CreateString("repro-run/1")) &&
             record_put(run->record, "status", cJSON_CreateString("running")) &&
             record_put(run->record, "start_time", timestamp_now()) &&
             record_put(run->record, "hostname", cJSON_CreateString(host)) &&
             record_put(run->record, "pid", cJSON_CreateNumber((double)getpid()));
    if (!ok)
        return repro_fail(err, REPRO_ERR_NOMEM, "out of memory creating run '%s'", run->dir);
    repro_status st = run_lock_mark(run->lock, run->dir, err);
    if (st == REPRO_OK)
        st = open_log(run, "ledger.jsonl", 1, &run->ledger, &run->ledger_size, err);
    if (st == REPRO_OK)
        st = open_log(run, "metrics.jsonl", 1, &run->metrics, &run->metrics_size, err);
    if (st == REPRO_OK)
        st = write_record(run, err);
    return st;
}

/* A run that could not be set up (created or reopened) after run.json may
 * already say "running" (its write failed only after the rename, syncing
 * the directory): record it as failed with why, best effort, and free it. */
static void abandon(repro_run *run, const char *why)
{
    char path[4096];
    if (run->record && repro_run_path(run, "run.json", path, sizeof path, NULL) == REPRO_OK &&
        access(path, F_OK) == 0) {
        char message[REPRO_ERROR_MESSAGE_MAX + 32];
        snprintf(message, sizeof message, "the run could not be set up: %s", why);
        repro_error ignored;
        if (record_put(run->record, "status", cJSON_CreateString("failed")) &&
            record_put(run->record, "end_time", timestamp_now()) &&
            record_put(run->record, "message", cJSON_CreateString(message)))
            write_final_record(run, &ignored);
    }
    run_free(run);
}

/* "'DIR' holds a run in progress (pid N)..." for a lock another process holds. */
static repro_status refuse_live(const char *dir, const char *what, long pid, repro_error *err)
{
    char who[48] = "";
    if (pid > 0)
        snprintf(who, sizeof who, " (pid %ld)", pid);
    return repro_fail(err, REPRO_ERR_STATE, "'%s' %s%s: it holds '%s/run.lock'; --force does not take the "
                      "directory of a live run", dir, what, who, dir);
}

repro_status repro_run_check_not_live(const char *dir, repro_error *err)
{
    int live;
    long pid;
    char status[32], message[8];
    if (run_lock_read(dir, &live, &pid, status, sizeof status, message, sizeof message) == 0 && live)
        return refuse_live(dir, "is still being trained", pid, err);
    return REPRO_OK;
}

repro_status repro_run_create(const char *dir, int force, repro_run **out, repro_error *err)
{
    *out = NULL;
    if (!dir || !dir[0])
        return repro_fail(err, REPRO_ERR_ARG, "empty run directory name");
    repro_status st = make_dirs(dir, err);
    if (st != REPRO_OK)
        return st;
    char path[4096];
    st = join_path(dir, "run.json", path, sizeof path, err);
    if (st != REPRO_OK)
        return st;
    int is_run = access(path, F_OK) == 0;
    st = join_path(dir, "run.lock", path, sizeof path, err);
    if (st != REPRO_OK)
        return st;
    is_run = is_run || access(path, F_OK) == 0;
    /* the lock first: a live run's directory is refused whatever else holds */
    repro_run *run = run_new(dir);
    if (!run)
        return repro_fail(err, REPRO_ERR_NOMEM, "out of memory creating run '%s'", dir);
    int created;
    long holder;
    st = run_lock_take(dir, &run->lock, &created, &holder, err);
    if (st == REPRO_ERR_STATE)
        st = refuse_live(dir, "holds a run in progress", holder, err);
    int nonempty;
    if (st == REPRO_OK)
        st = check_existing(dir, force, is_run, err);
    if (st == REPRO_OK && is_run)
        st = scan_dir(dir, 1, &nonempty, NULL, 0, err);
    if (st == REPRO_OK && !(run->record = cJSON_CreateObject()))
        st = repro_fail(err, REPRO_ERR_NOMEM, "out of memory creating run '%s'", dir);
    int started = 0;
    if (st == REPRO_OK) {
        started = 1;
        st = start_run(run, err);
    }
    if (st != REPRO_OK) {
        if (created && !is_run && run->lock >= 0 && !started)
            unlink(path); /* refused before it became a run directory: leave no mark */
        if (started)
            abandon(run, err ? err->message : "an error");
        else
            run_free(run);
        return st;
    }
    *out = run;
    return REPRO_OK;
}

repro_status repro_run_set_json(repro_run *run, const char *key, cJSON *value, repro_error *err)
{
    static const char *const own[] = {"format", "status", "start_time", "end_time",
                                      "message", "hostname", "pid"};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (strcmp(key, own[i]) == 0) {
            cJSON_Delete(value);
            return repro_fail(err, REPRO_ERR_ARG, "run.json key '%s' is set by the run itself", key);
        }
    if (!value)
        return repro_fail(err, REPRO_ERR_NOMEM, "out of memory setting run.json key '%s'", key);
    if (!record_put(run->record, key, value)) {
        cJSON_Delete(value);
        return repro_fail(err, REPRO_ERR_NOMEM, "out of memory setting run.json key '%s'", key);
    }
    return write_record(run, err);
}

static int is_sha256_hex(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return 0;
    return n == 64;
}

/* Appends text [n] to DIR/name (fd, *size bytes of whole lines) at once; if
 * it does not all go down (a full disk), cuts the file back to *size, so
 * the file never ends in a partial line of ours. */
static repro_status append_line(repro_run *run, int fd, off_t *size, const char *name, const char *text, size_t n,
                                repro_error *err)
{
    if (fd < 0)
        return repro_fail(err, REPRO_ERR_STATE, "'%s/%s' is closed", run->dir, name);
    size_t done = 0;
    while (done < n) {
        ssize_t put = repro_io_write(fd, text + done, n - done);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0) {
            int e = put < 0 ? errno : EIO;
            int cut = ftruncate(fd, *size); /* shrinking needs no room */
            return repro_fail(err, REPRO_ERR_IO, "cannot write '%s/%s': %s%s", run->dir, name, strerror(e),
                              cut == 0 ? "" : " (and a partial line is left at its end)");
        }
        done += (size_t)put;
    }
    *size += (off_t)n;
    return REPRO_OK;
}

repro_status repro_run_ledger(repro_run *run, int64_t step, int64_t epoch, float loss, float lr,
                              const char *params_sha256, const char *optim_sha256,
                              repro_error *err)
{
    const char *hashes[2] = {params_sha256, optim_sha256};
    for (int i = 0; i < 2; i++)
        if (hashes[i] && !is_sha256_hex(hashes[i]))
            return repro_fail(err, REPRO_ERR_ARG, "ledger step %lld: '%s' is not a SHA-256 hex digest",
                              (long long)step, hashes[i]);
    uint32_t loss_bits, lr_bits;
    memcpy(&loss_bits, &loss, 4);
    memcpy(&lr_bits, &lr, 4);
    /* Exact bit patterns are the record; the decimal is for people. */
    char line[512];
    int n = snprintf(line, sizeof line,
                     "{\"step\":%lld,\"epoch\":%lld,\"loss\":\"0x%08x\",\"loss_dec\":\"%.9g\",\"lr\":\"0x%08x\"",
                     (long long)step, (long long)epoch, (unsigned)loss_bits, (double)loss, (unsigned)lr_bits);
    if (params_sha256)
        n += snprintf(line + n, sizeof line - (size_t)n, ",\"params_sha256\":\"%s\"", params_sha256);
    if (optim_sha256)
        n += snprintf(line + n, sizeof line - (size_t)n, ",\"optim_sha256\":\"%s\"", optim_sha256);
    n += snprintf(line + n, sizeof line - (size_t)n, "}\n");
    return append_line(run, run->ledger, &run->ledger_size, "ledger.jsonl", line, (size_t)n, err);
}

repro_status repro_run_metrics(repro_run *run, cJSON *line, repro_error *err)
{
    char *text = line ? cJSON_PrintUnformatted(line) : NULL;
    cJSON_Delete(line);
    size_t n = text ? strlen(text) : 0;
    char *whole = text ? repro_io_realloc(text, n + 2) : NULL;
    if (!whole) {
        free(text);
        return repro_fail(err, REPRO_ERR_NOMEM, "out of memory writing '%s/metrics.jsonl'", run->dir);
    }
    memcpy(whole + n, "\n", 2);
    repro_status st = append_line(run, run->metrics, &run->metrics_size, "metrics.jsonl", whole, n + 1, err);
    free(whole);
    return st;
}

/* Rewrites run.json; when that fails (a full disk), gives back run.lock's
 * reserved room and tries once more. */
static repro_status write_final_record(repro_run *run, repro_error *err)
{
    repro_error first;
    if (write_record(run, &first) == REPRO_OK)
        return REPRO_OK;
    run_lock_release_reserve(run->lock);
    repro_status st = write_record(run, err);
    if (st != REPRO_OK && err)
        *err = first;
    return st;
}

repro_status repro_run_finish(repro_run *run, const char *status, const char *message,
                              repro_error *err)
{
    if (!run)
        return repro_fail(err, REPRO_ERR_ARG, "repro_run_finish: no run");
    repro_status st = REPRO_OK;
    char why[256];
    if (!status || (strcmp(status, "complete") != 0 && strcmp(status, "failed") != 0 &&
                    strcmp(status, "interrupted") != 0)) {
        /* A caller bug; record the run as failed rather than leave "running". */
        snprintf(why, sizeof why, "repro_run_finish called with invalid status '%s'",
                 status ? status : "(null)");
        st = repro_fail(err, REPRO_ERR_ARG, "%s", why);
        status = "failed";
        message = why;
    }
    repro_error io;
    repro_error *e = st == REPRO_OK ? err : &io;
    if (run->ledger >= 0 && close(run->ledger) != 0 && st == REPRO_OK)
        st = repro_fail(e, REPRO_ERR_IO, "cannot close '%s/ledger.jsonl'", run->dir);
    if (run->metrics >= 0 && close(run->metrics) != 0 && st == REPRO_OK)
        st = repro_fail(e, REPRO_ERR_IO, "cannot close '%s/metrics.jsonl'", run->dir);
    run->ledger = run->metrics = -1;
    int ok = record_put(run->record, "status", cJSON_CreateString(status)) &&
             record_put(run->record, "end_time", timestamp_now()) &&
             (!message || record_put(run->record, "message", cJSON_CreateString(message)));
    repro_error werr;
    repro_status wst = ok ? write_final_record(run, &werr)
                          : repro_fail(&werr, REPRO_ERR_NOMEM, "out of memory finishing run '%s'", run->dir);
    if (wst != REPRO_OK) {
        /* run.json still says "running": say what happened where the next
         * repro command looks (run.lock's slot, rewritten in place) */
        char note[3 * sizeof werr.message]; /* run_lock_note keeps what fits */
        snprintf(note, sizeof note, "%s%s%s; and run.json could not be rewritten: %s",
                 strcmp(status, "complete") == 0 ? "the run completed" : status, message ? ": " : "",
                 message ? message : "", werr.message);
        int noted = run_lock_note(run->lock, "failed", note) == 0;
        if (e)
            repro_fail(e, wst, "%s%s", werr.message, noted ? " (the failure is noted in run.lock)" : "");
    }
    run_lock_release_reserve(run->lock); /* an ended run needs no room to record its end */
    run_free(run);
    return st != REPRO_OK ? st : wst;
}

/* ---- resuming ---- */

/* Reads a whole file; *n its length. NULL with err set on failure. */
static char *read_all(const char *path, size_t *n, repro_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        repro_fail(err, REPRO_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = repro_io_malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap)
            break;
        char *bigger = repro_io_realloc(buf, cap *= 2);
        if (!bigger)
            free(buf);
        buf = bigger;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        repro_fail(err, buf ? REPRO_ERR_IO : REPRO_ERR_NOMEM, "cannot read '%s'", path);
        return NULL;
    }
    *n = len;
    return buf;
}

/* Keeps the leading whole lines of DIR/name that `keep` accepts (it is
 * called with each line, NUL-terminated, and its number), rewrites the file
 * atomically and opens it for appending. A line cut short by a crash (no
 * newline) is dropped. Fewer than `limit` lines kept (a line missing or
 * unreadable before it) is an error, and the file is left as it was: a
 * ledger is never cut at a line nobody checked. */
static repro_status truncate_log(repro_run *run, const char *name, int (*keep)(const char *line, int64_t i, int64_t limit),
                                 int64_t limit, int *fd, off_t *size, repro_error *err)
{
    char path[4096];
    repro_status st = repro_run_path(run, name, path, sizeof path, err);
    if (st != REPRO_OK)
        return st;
    size_t n = 0;
    char *text = access(path, F_OK) == 0 ? read_all(path, &n, err) : repro_io_calloc(1, 1);
    if (!text)
        return err && err->status != REPRO_OK ? err->status : repro_fail(err, REPRO_ERR_NOMEM, "out of memory");
    size_t kept = 0;
    int64_t lines = 0;
    for (; kept < n; lines++) {
        char *nl = memchr(text + kept, '\n', n - kept);
        if (!nl)
            break;
        *nl = '\0';
        int ok = keep(text + kept, lines, limit);
        *nl = '\n';
        if (!ok)
            break;
        kept = (size_t)(nl - text) + 1;
    }
    if (lines < limit) {
        free(text);
        return repro_fail(err, REPRO_ERR_STATE, "'%s' has %lld readable lines in order, fewer than the %lld a "
                          "resume keeps; not rewriting it", path, (long long)lines, (long long)limit);
    }
    st = repro_write_file_atomic(path, text, kept, err);
    free(text);
    if (st != REPRO_OK)
        return st;
    return open_log(run, name, 0, fd, size, err);
}

/* Line i (0-based) is kept when it is step i + 1 and within the limit. */
static int ledger_keep(const char *line, int64_t i, int64_t limit)
{
    cJSON *o = cJSON_Parse(line);
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(o, "step");
    int ok = cJSON_IsNumber(step) && step->valuedouble == (double)(i + 1) && step->valuedouble <= (double)limit;
    cJSON_Delete(o);
    return ok;
}

static int first_lines(const char *line, int64_t i, int64_t limit)
{
    (void)line;
    return i < limit;
}

repro_status repro_run_resume(const char *dir, int64_t keep_steps, int64_t keep_metrics, repro_run **out,
                              repro_error *err)
{
    *out = NULL;
    char path[4096];
    repro_status st = join_path(dir, "run.json", path, sizeof path, err);
    cJSON *record = NULL;
    if (st == REPRO_OK)
        st = repro_json_read_file(path, &record, err);
    if (st != REPRO_OK)
        return st;
    repro_run *run = run_new(dir);
    if (!run) {
        cJSON_Delete(record);
        return repro_fail(err, REPRO_ERR_NOMEM, "out of memory resuming '%s'", dir);
    }
    run->record = record;
    int created;
    long holder;
    st = run_lock_take(dir, &run->lock, &created, &holder, err);
    if (st == REPRO_ERR_STATE)
        st = refuse_live(dir, "is still being trained", holder, err);
    const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(record, "status"));
    if (st != REPRO_OK)
        ;
    else if (status && strcmp(status, "complete") == 0)
        st = repro_fail(err, REPRO_ERR_STATE, "'%s' holds a complete run: there is nothing to resume", dir);
    /* A run.lock that was there and is now ours says its trainer is gone
     * (the lock goes with the process's files, before the process itself:
     * a rank of a stopped mpirun job can still be exiting or unreaped, and
     * its pid still answer kill(pid, 0)). Only a run from before run.lock
     * existed is judged by its pid. */
    else if (created && status && strcmp(status, "running") == 0 && run_is_live(record))
        st = repro_fail(err, REPRO_ERR_STATE, "'%s' is still being trained (pid %ld)", dir,
                        record_pid(record));
    if (st != REPRO_OK) {
        run_free(run);
        return st;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(record, "end_time");
    cJSON_DeleteItemFromObjectCaseSensitive(record, "message");
    cJSON_DeleteItemFromObjectCaseSensitive(record, "final");
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    int ok = record_put(record, "status", cJSON_CreateString("running")) &&
             record_put(record, "hostname", cJSON_CreateString(host)) &&
             record_put(record, "pid", cJSON_CreateNumber((double)getpid()));
    st = ok ? REPRO_OK : repro_fail(err, REPRO_ERR_NOMEM, "out of memory resuming '%s'", dir);
    if (st == REPRO_OK)
        st = run_lock_mark(run->lock, dir, err);
    if (st == REPRO_OK)
        st = remove_leftovers(dir, err);
    if (st == REPRO_OK)
        st = truncate_log(run, "ledger.jsonl", ledger_keep, keep_steps, &run->ledger, &run->ledger_size, err);
    if (st == REPRO_OK)
        st = truncate_log(run, "metrics.jsonl", first_lines, keep_metrics, &run->metrics, &run->metrics_size, err);
    int wrote = st == REPRO_OK;
    if (st == REPRO_OK)
        st = write_record(run, err);
    if (st != REPRO_OK) {
        if (wrote) /* run.json may say "running" already */
            abandon(run, err ? err->message : "an error");
        else
            run_free(run);
        return st;
    }
    *out = run;
    return REPRO_OK;
}

const cJSON *repro_run_record(const repro_run *run)
{
    return run->record;
}

int repro_run_stale_note(const char *dir, char *out, size_t size)
{
    char path[4096];
    cJSON *record = NULL;
    repro_error ignored;
    if (snprintf(path, sizeof path, "%s/run.json", dir) >= (int)sizeof path ||
        repro_json_read_file(path, &record, &ignored) != REPRO_OK)
        return 0;
    const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(record, "status"));
    int running = status && strcmp(status, "running") == 0;
    long rec_pid = record_pid(record);
    int live_record = running && run_is_live(record);
    cJSON_Delete(record);
    int live = 0;
    long pid = 0;
    char lstatus[32] = "", message[RUN_LOCK_SLOT] = "";
    int has_lock = run_lock_read(dir, &live, &pid, lstatus, sizeof lstatus, message, sizeof message) == 0;
    if (!running || live || live_record)
        return 0;
    if (has_lock && strcmp(lstatus, "failed") == 0)
        snprintf(out, size, "run.json of '%s' still says \"running\", but its process (pid %ld) noted in run.lock "
                 "that it failed: %s", dir, pid, message);
    else if (pid || rec_pid)
        snprintf(out, size, "run.json of '%s' still says \"running\", but its process (pid %ld) is gone without "
                 "recording how the run ended (killed, crashed, or the machine stopped)", dir, pid ? pid : rec_pid);
    else /* neither file names a process id */
        snprintf(out, size, "run.json of '%s' still says \"running\", but names no process that could still be "
                 "training it (killed, crashed, or the machine stopped)", dir);
    return 1;
}
