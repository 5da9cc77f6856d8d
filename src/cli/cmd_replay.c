/* repro replay RUN_DIR: retrains a run from its own record and checks that
 * every bit it recorded comes out again.
 *
 * The record is the authority, not the files around it: the config trained
 * is run.json's resolved "config" (written to OUT/replay-config.json; YAML
 * reads JSON), which must hash to the recorded config_sha256, so the user's
 * YAML file may have moved or changed. The data files must hash as
 * recorded (--data-root finds moved ones by name). The retraining is
 * `repro train` in a child process of this binary; its ledger is read as
 * it grows and compared line by line with the recorded one, and the first
 * line that differs stops it. Then repro_run_compare (what `repro diff`
 * prints) gives the verdict, and on a difference diff_trace_run names the
 * first tensor that differs.
 *
 * Exit status (docs/reproducibility.md#replaying-a-run-repro-replay):
 *   0 every compared ledger line and fingerprint, and the final
 *     params_sha256, matched;
 *   1 a bit differs (a ledger line, a fingerprint, the final hash, or the
 *     record's config no longer hashes to its config_sha256);
 *   2 usage error, or a run directory that cannot be replayed (missing or
 *     malformed run.json or ledger, a newer format, an incomplete run
 *     without --until);
 *   3 a data file is missing or its SHA-256 changed;
 *   4 the retraining itself failed (its log is named). */
#define _GNU_SOURCE /* mkdtemp, kill */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "build_info.h"
#include "cli/commands.h"
#include "cli/diff_print.h"
#include "cli/diff_trace.h"
#include "repro/config.h"
#include "repro/record.h"

enum { REPLAY_MATCH = 0, REPLAY_MISMATCH = 1, REPLAY_USAGE = 2, REPLAY_DATA = 3, REPLAY_TRAIN_FAILED = 4 };

static const char usage_text[] =
    "usage: repro replay RUN_DIR [--out DIR] [--until STEP] [--data-root DIR]\n"
    "                    [--set KEY=VALUE]... [--no-trace] [--force]\n"
    "Retrains RUN_DIR from its own record (run.json's resolved config, which must\n"
    "still hash to its config_sha256) after checking every data file's SHA-256,\n"
    "and compares every ledger line (loss and lr bits, fingerprints) as the\n"
    "retraining writes it, then the final params_sha256. The first line that\n"
    "differs stops it, and the report of `repro diff --trace` names the step,\n"
    "the operation and the tensor where the bits parted.\n"
    "  --out DIR         retrain into DIR (default: a new temporary folder, removed\n"
    "                    when everything matched; its path is printed)\n"
    "  --until STEP      audit only steps 1..STEP (a quick check of a long run, or\n"
    "                    of an interrupted one)\n"
    "  --data-root DIR   data files have moved: look for each one in DIR under its\n"
    "                    recorded file name (hashes are still checked)\n"
    "  --set KEY=VALUE   change a setting that never changes bits (threads=4,\n"
    "                    loader.workers=2, device=cuda); differences show in the report\n"
    "  --no-trace        on a difference, do not re-run to name the tensor\n"
    "  --force           retrain into an --out DIR that is not empty\n"
    "exit status: 0 every compared bit matched; 1 a bit differs (or the record was\n"
    "             edited); 2 usage error or a run directory that cannot be replayed;\n"
    "             3 a data file is missing or changed; 4 the retraining failed\n";

typedef struct replay_args {
    const char *run_dir, *out, *data_root;
    long long until; /* 0: every step */
    const char **sets; /* the user's --set, then those --data-root adds (malloc'd) */
    int n_sets, n_user_sets, cap_sets, trace, force;
} replay_args;

static const char *str(const cJSON *o, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static int usage_error(const char *fmt, const char *arg)
{
    fputs("repro replay: ", stderr);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage_text);
    return REPLAY_USAGE;
}

/* Returns -1 after --help, else a REPLAY_* status. */
static int parse_args(int argc, char **argv, replay_args *a)
{
    memset(a, 0, sizeof *a);
    a->trace = 1;
    a->cap_sets = argc + 64;
    a->sets = calloc((size_t)a->cap_sets, sizeof *a->sets);
    if (!a->sets)
        return usage_error("%s", "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        int valued = !strcmp(arg, "--out") || !strcmp(arg, "--until") || !strcmp(arg, "--data-root") ||
                     !strcmp(arg, "--set");
        if (valued && i + 1 == argc)
            return usage_error("%s needs a value", arg);
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            fputs(usage_text, stdout);
            return -1;
        } else if (!strcmp(arg, "--out")) {
            a->out = argv[++i];
        } else if (!strcmp(arg, "--data-root")) {
            a->data_root = argv[++i];
        } else if (!strcmp(arg, "--set")) {
            a->sets[a->n_sets++] = argv[++i];
        } else if (!strcmp(arg, "--until")) {
            char *end;
            errno = 0;
            a->until = strtoll(argv[++i], &end, 10);
            if (errno || *end || end == argv[i] || a->until < 1)
                return usage_error("--until expects a step >= 1, got '%s'", argv[i]);
        } else if (!strcmp(arg, "--no-trace")) {
            a->trace = 0;
        } else if (!strcmp(arg, "--force")) {
            a->force = 1;
        } else if (arg[0] == '-' && arg[1]) {
            return usage_error("unknown option '%s'", arg);
        } else if (a->run_dir) {
            return usage_error("too many arguments ('%s')", arg);
        } else {
            a->run_dir = arg;
        }
    }
    a->n_user_sets = a->n_sets;
    if (!a->run_dir)
        return usage_error("%s", "need a run directory");
    return REPLAY_MATCH;
}

/* ---- the record ---- */

/* run.json, checked to be a run record this repro can replay, and the
 * recorded ledger. *last_step is the step to replay to. */
static int load_record(const replay_args *a, cJSON **record, repro_ledger_entry **ledger, int64_t *n_ledger,
                       long long *last_step)
{
    char path[4200];
    repro_error err;
    snprintf(path, sizeof path, "%s/run.json", a->run_dir);
    if (access(path, F_OK) != 0) {
        fprintf(stderr, "repro replay: '%s' is not a run directory: it has no run.json\n", a->run_dir);
        return REPLAY_USAGE;
    }
    if (repro_json_read_file(path, record, &err) != REPRO_OK) {
        fprintf(stderr, "repro replay: %s\n", err.message);
        return REPLAY_USAGE;
    }
    const char *format = str(*record, "format");
    if (!format || strncmp(format, "repro-run/", 10) != 0) {
        fprintf(stderr, "repro replay: '%s' is not a repro run record (its \"format\" is %s)\n", path,
                format ? format : "missing");
        return REPLAY_USAGE;
    }
    if (strcmp(format, "repro-run/1") != 0) {
        fprintf(stderr, "repro replay: '%s' has format '%s', newer than this repro reads (repro-run/1); "
                        "replay it with the repro that wrote it (%s)\n",
                path, format, str(cJSON_GetObjectItemCaseSensitive(*record, "repro"), "version") ?: "version unknown");
        return REPLAY_USAGE;
    }
    if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(*record, "config")) || !str(*record, "config_sha256")) {
        fprintf(stderr, "repro replay: '%s' lacks its config or config_sha256: the run never started\n", path);
        return REPLAY_USAGE;
    }
    snprintf(path, sizeof path, "%s/ledger.jsonl", a->run_dir);
    if (access(path, F_OK) != 0) {
        fprintf(stderr, "repro replay: '%s' has no ledger.jsonl: there is nothing to compare\n", a->run_dir);
        return REPLAY_USAGE;
    }
    if (repro_ledger_read(path, ledger, n_ledger, &err) != REPRO_OK) {
        fprintf(stderr, "repro replay: %s\n", err.message);
        return REPLAY_USAGE;
    }
    long long recorded = *n_ledger ? (long long)(*ledger)[*n_ledger - 1].step : 0;
    const char *status = str(*record, "status");
    int complete = status && !strcmp(status, "complete");
    if (!complete && (!a->until || a->until > recorded)) {
        fprintf(stderr, "repro replay: '%s' is %s, not complete: its ledger ends at step %lld; "
                        "audit what it has with --until %lld\n",
                a->run_dir, status ? status : "of unknown status", recorded, recorded);
        return REPLAY_USAGE;
    }
    if (recorded == 0) {
        fprintf(stderr, "repro replay: '%s': ledger.jsonl is empty\n", a->run_dir);
        return REPLAY_USAGE;
    }
    *last_step = a->until && a->until < recorded ? a->until : recorded;
    return REPLAY_MATCH;
}

/* Warns when this build is not the one that made the run: its bits should
 * not change (that is repro's promise), but a difference is then the first
 * thing to look at. */
static void check_build(const cJSON *record)
{
    const cJSON *was = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(record, "env"), "repro");
    const char *version = str(was, "version"), *commit = str(was, "git_commit");
    if (version && strcmp(version, REPRO_VERSION_STRING) != 0)
        fprintf(stderr, "repro replay: warning: the run was made by repro %s, this is repro %s\n", version,
                REPRO_VERSION_STRING);
    if (commit && strcmp(commit, REPRO_GIT_COMMIT) != 0)
        fprintf(stderr, "repro replay: warning: the run was built from commit %s, this repro from %s\n", commit,
                REPRO_GIT_COMMIT);
    const cJSON *det = cJSON_GetObjectItemCaseSensitive(record, "determinism");
    if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(det, "reproducible")))
        fprintf(stderr, "repro replay: warning: the record says the run was not bit-reproducible "
                        "(determinism.not_exact); its bits need not come out again\n");
}

/* ---- the data ---- */

/* Where a recorded data file is now: its path, or DATA_ROOT/<its name>. */
static void data_path(const replay_args *a, const char *recorded, char *out, size_t size)
{
    if (!a->data_root) {
        snprintf(out, size, "%s", recorded);
        return;
    }
    const char *slash = strrchr(recorded, '/');
    snprintf(out, size, "%s/%s", a->data_root, slash ? slash + 1 : recorded);
}

/* Checks every data file the record lists (all of them, naming each that
 * is missing or changed), and with --data-root adds a --set for every
 * config.data key that named a moved file. */
static int check_data(replay_args *a, const cJSON *record)
{
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(record, "data"), "files");
    const cJSON *data_cfg = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(record, "config"), "data");
    int bad = 0, n = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, files)
    {
        const char *file = str(item, "path"), *sha = str(item, "sha256");
        if (!file || !sha)
            continue;
        char now_path[4200], now[65];
        data_path(a, file, now_path, sizeof now_path);
        repro_error err;
        n++;
        if (access(now_path, F_OK) != 0) {
            fprintf(stderr, "repro replay: data file '%s' is missing%s\n", now_path,
                    a->data_root ? "" : " (moved? --data-root DIR looks for it by name)");
            bad = 1;
        } else if (repro_sha256_file(now_path, now, &err) != REPRO_OK) {
            fprintf(stderr, "repro replay: %s\n", err.message);
            bad = 1;
        } else if (strcmp(now, sha) != 0) {
            fprintf(stderr, "repro replay: data file '%s' changed: sha256 %s, recorded %s\n", now_path, now, sha);
            bad = 1;
        }
        const cJSON *key;
        cJSON_ArrayForEach(key, data_cfg)
        {
            if (!a->data_root || !cJSON_IsString(key) || strcmp(key->valuestring, file) != 0)
                continue;
            size_t len = strlen(key->string) + strlen(now_path) + 8;
            char *set = a->n_sets < a->cap_sets ? malloc(len) : NULL;
            if (!set) {
                fprintf(stderr, "repro replay: out of memory\n");
                return REPLAY_USAGE;
            }
            snprintf(set, len, "data.%s=%s", key->string, now_path);
            a->sets[a->n_sets++] = set;
        }
    }
    if (bad)
        return REPLAY_DATA;
    fprintf(stderr, "repro replay: %d data file%s match their recorded SHA-256\n", n, n == 1 ? "" : "s");
    return REPLAY_MATCH;
}

/* ---- the config ---- */

/* Writes the record's config to path and checks it still hashes to the
 * recorded config_sha256: an edited config section is caught here. */
static int write_config(const cJSON *record, const char *path)
{
    char *text = cJSON_Print(cJSON_GetObjectItemCaseSensitive(record, "config"));
    repro_error err;
    if (!text || repro_write_file_atomic(path, text, strlen(text), &err) != REPRO_OK) {
        fprintf(stderr, "repro replay: cannot write '%s': %s\n", path, text ? err.message : "out of memory");
        free(text);
        return REPLAY_USAGE;
    }
    free(text);
    repro_config *cfg = malloc(sizeof *cfg);
    if (!cfg || repro_config_load(path, NULL, 0, cfg, &err) != REPRO_OK) {
        fprintf(stderr, "repro replay: the record's config does not load: %s\n", cfg ? err.message : "out of memory");
        free(cfg);
        return REPLAY_MISMATCH;
    }
    char *canon = repro_config_to_json(cfg);
    free(cfg);
    char have[65];
    repro_sha256_hex(canon ? canon : "", canon ? strlen(canon) : 0, have);
    free(canon);
    const char *want = str(record, "config_sha256");
    if (strcmp(have, want) != 0) {
        fprintf(stderr, "repro replay: run.json's config hashes to %s, but its config_sha256 says %s: "
                        "the record was edited\n", have, want);
        return REPLAY_MISMATCH;
    }
    return REPLAY_MATCH;
}

/* ---- the retraining ---- */

/* Starts `repro train CONFIG --set... --out OUT --force --quiet
 * [--stop-after STEP]` with its output in OUT/replay-train.log and without
 * a test perturbation. Returns the child's pid or -1. */
static pid_t start_training(const char *config, const char *out, const char **sets, int n_sets, long long stop)
{
    char **argv = calloc((size_t)(2 * n_sets + 12), sizeof *argv);
    char stop_text[32], log_path[4200];
    if (!argv)
        return -1;
    int n = 0;
    argv[n++] = "repro";
    argv[n++] = "train";
    argv[n++] = (char *)config;
    for (int i = 0; i < n_sets; i++) {
        argv[n++] = "--set";
        argv[n++] = (char *)sets[i];
    }
    argv[n++] = "--out";
    argv[n++] = (char *)out;
    argv[n++] = "--force";
    argv[n++] = "--quiet";
    if (stop) {
        snprintf(stop_text, sizeof stop_text, "%lld", stop);
        argv[n++] = "--stop-after";
        argv[n++] = stop_text;
    }
    snprintf(log_path, sizeof log_path, "%s/replay-train.log", out);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        unsetenv("REPRO_TEST_PERTURB"); /* a replay checks the honest bits */
        execv("/proc/self/exe", argv);
        fprintf(stderr, "repro replay: cannot run /proc/self/exe: %s\n", strerror(errno));
        _exit(127);
    }
    free(argv);
    return pid;
}

/* Whether two ledger lines agree on everything both carry. */
static int same_line(const repro_ledger_entry *a, const repro_ledger_entry *b)
{
    if (a->step != b->step || a->epoch != b->epoch || a->loss_bits != b->loss_bits || a->lr_bits != b->lr_bits)
        return 0;
    if (a->params_sha256[0] && b->params_sha256[0] && strcmp(a->params_sha256, b->params_sha256) != 0)
        return 0;
    if (a->optim_sha256[0] && b->optim_sha256[0] && strcmp(a->optim_sha256, b->optim_sha256) != 0)
        return 0;
    return 1;
}

/* Compares the replay's ledger lines from *checked on with the record's
 * when the file grew since *seen_size; returns the 1-based line that
 * differs, or 0. (The file is read whole each time it grows: a few
 * milliseconds even for a long run, at the polling rate below.) */
static int64_t compare_new_lines(const char *out, const repro_ledger_entry *want, int64_t n_want, int64_t *checked,
                                 off_t *seen_size)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/ledger.jsonl", out);
    struct stat sb;
    if (stat(path, &sb) != 0 || sb.st_size == *seen_size)
        return 0;
    *seen_size = sb.st_size;
    repro_ledger_entry *have = NULL;
    int64_t n_have = 0;
    int cut = 0;
    repro_error err;
    if (access(path, F_OK) != 0 || repro_ledger_read_whole(path, &have, &n_have, &cut, &err) != REPRO_OK)
        return 0; /* not there yet; the final comparison reads it strictly */
    int64_t bad = 0;
    for (; *checked < n_have && !bad; (*checked)++)
        if (*checked >= n_want || !same_line(&have[*checked], &want[*checked]))
            bad = *checked + 1;
    free(have);
    return bad;
}

/* Runs the child to its end, comparing as it goes; a differing line stops
 * it (SIGTERM: it checkpoints and marks itself interrupted). Returns the
 * child's wait status in *wstatus and the first differing line or 0. */
static int64_t watch_training(pid_t pid, const char *out, const repro_ledger_entry *want, int64_t n_want,
                              int *wstatus)
{
    int64_t checked = 0, bad = 0;
    off_t seen_size = 0;
    const struct timespec tick = {0, 100 * 1000 * 1000};
    for (;;) {
        pid_t done = waitpid(pid, wstatus, WNOHANG);
        if (!bad)
            bad = compare_new_lines(out, want, n_want, &checked, &seen_size);
        if (done == pid)
            return bad;
        if (bad) {
            kill(pid, SIGTERM);
            waitpid(pid, wstatus, 0);
            return bad;
        }
        nanosleep(&tick, NULL);
    }
}

static void print_log_tail(const char *out)
{
    char path[4200], line[1024];
    snprintf(path, sizeof path, "%s/replay-train.log", out);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f))
        fprintf(stderr, "  | %s", line);
    fclose(f);
}

/* ---- the verdict ---- */

/* The last recorded line compared and the replay's line with the same
 * step must match; for a full replay also the final hash (the report's
 * verdict). Prints the result; returns REPLAY_MATCH or REPLAY_MISMATCH. */
static int verdict(const replay_args *a, const char *out, long long last_step, int64_t bad_line, int full)
{
    cJSON *report = NULL;
    repro_error err;
    if (repro_run_compare(a->run_dir, out, &report, &err) != REPRO_OK) {
        fprintf(stderr, "repro replay: %s\n", err.message);
        return REPLAY_USAGE;
    }
    const cJSON *ledger = cJSON_GetObjectItemCaseSensitive(report, "ledger");
    const cJSON *first = cJSON_GetObjectItemCaseSensitive(ledger, "first_divergence");
    double b_steps = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ledger, "b_steps"));
    int ok = !bad_line && !cJSON_IsObject(first) && b_steps >= (double)last_step;
    if (full)
        ok = ok && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(report, "identical"));
    if (ok) {
        const cJSON *fin = cJSON_GetObjectItemCaseSensitive(report, "final_params_sha256");
        printf("replay: identical: %lld ledger lines match bit for bit", last_step);
        if (full)
            printf(", and the final params_sha256 %s", str(fin, "a") ? str(fin, "a") : "(recorded in neither)");
        puts("");
        cJSON_Delete(report);
        return REPLAY_MATCH;
    }
    if (cJSON_IsObject(first)) {
        double step = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(first, "a"), "step"));
        printf("replay: DIFFERENT: the retraining parts from the record at step %.0f\n", step);
        if (a->trace && diff_trace_run(report, NULL) != 0) {
            cJSON_DeleteItemFromObjectCaseSensitive(report, "trace");
            fprintf(stderr, "repro replay: could not trace the step (see above); the ledger report follows\n");
        }
    } else {
        printf("replay: DIFFERENT: the ledgers agree line for line, but not in length or final params_sha256\n");
    }
    diff_print_report(report);
    const cJSON *trace = cJSON_GetObjectItemCaseSensitive(report, "trace");
    const cJSON *cmp = cJSON_GetObjectItemCaseSensitive(trace, "comparison");
    if (cmp && !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(cmp, "first_difference")))
        puts("replay: re-running both sides gives the same bits: the recorded line is not what this config "
             "computes (was the ledger edited, or made by another build?)");
    cJSON_Delete(report);
    return REPLAY_MISMATCH;
}

/* Creates the directory to retrain in. */
static int make_out(const replay_args *a, char *out, size_t size, int *temporary)
{
    *temporary = 0;
    if (a->out) {
        snprintf(out, size, "%s", a->out);
        if (mkdir(out, 0755) == 0)
            return REPLAY_MATCH;
        if (errno != EEXIST) {
            fprintf(stderr, "repro replay: cannot create '%s': %s\n", out, strerror(errno));
            return REPLAY_USAGE;
        }
        char probe[4200];
        snprintf(probe, sizeof probe, "%s/run.json", out);
        if (!a->force && access(probe, F_OK) == 0) {
            fprintf(stderr, "repro replay: '%s' already holds a run; use --force to retrain over it\n", out);
            return REPLAY_USAGE;
        }
        return REPLAY_MATCH;
    }
    const char *base = getenv("TMPDIR");
    snprintf(out, size, "%s/repro-replay-XXXXXX", base && base[0] ? base : "/tmp");
    if (!mkdtemp(out)) {
        fprintf(stderr, "repro replay: cannot create a temporary folder '%s': %s\n", out, strerror(errno));
        return REPLAY_USAGE;
    }
    *temporary = 1;
    return REPLAY_MATCH;
}

static void remove_replay(const char *out)
{
    DIR *d = opendir(out);
    struct dirent *e;
    char ckpt[4300];
    while (d && (e = readdir(d)))
        if (!strncmp(e->d_name, "ckpt-", 5)) {
            snprintf(ckpt, sizeof ckpt, "%s/%s", out, e->d_name);
            unlink(ckpt);
        }
    if (d)
        closedir(d);
    static const char *const names[] = {"run.json", "ledger.jsonl", "metrics.jsonl", "model.safetensors",
                                        "run.lock", "replay-config.json", "replay-train.log"};
    char path[4300];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s", out, names[i]);
        unlink(path);
    }
    rmdir(out); /* fails, and keeps it, if a checkpoint or anything else is left */
}

static int replay(replay_args *a)
{
    cJSON *record = NULL;
    repro_ledger_entry *ledger = NULL;
    int64_t n_ledger = 0;
    long long last_step = 0;
    int rc = load_record(a, &record, &ledger, &n_ledger, &last_step);
    if (rc == REPLAY_MATCH) {
        check_build(record);
        rc = check_data(a, record);
    }
    char out[4096], config[4200];
    int temporary = 0;
    if (rc == REPLAY_MATCH)
        rc = make_out(a, out, sizeof out, &temporary);
    if (rc == REPLAY_MATCH) {
        snprintf(config, sizeof config, "%s/replay-config.json", out);
        rc = write_config(record, config);
    }
    if (rc != REPLAY_MATCH) {
        if (temporary)
            remove_replay(out);
        cJSON_Delete(record);
        free(ledger);
        return rc;
    }
    /* the whole run, final hash included: a complete run replayed to its end
     * (--until at or past its last step too) */
    const char *status = str(record, "status");
    int full = status && !strcmp(status, "complete") && last_step == (long long)ledger[n_ledger - 1].step;
    fprintf(stderr, "repro replay: retraining %s to step %lld in %s\n", a->run_dir, last_step, out);
    pid_t pid = start_training(config, out, a->sets, a->n_sets, full ? 0 : last_step);
    int wstatus = 0;
    int64_t bad = pid > 0 ? watch_training(pid, out, ledger, full ? n_ledger : last_step, &wstatus) : 0;
    int trained = pid > 0 && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
    if (!bad && !trained) {
        fprintf(stderr, "repro replay: the retraining failed (%s); its log, %s/replay-train.log:\n",
                pid < 0 ? strerror(errno) : "exit status above", out);
        print_log_tail(out);
        rc = REPLAY_TRAIN_FAILED;
    } else {
        if (bad)
            fprintf(stderr, "repro replay: ledger line %lld differs; retraining stopped\n", (long long)bad);
        rc = verdict(a, out, last_step, bad, full);
    }
    if (rc == REPLAY_MATCH && temporary)
        remove_replay(out);
    else
        fprintf(stderr, "repro replay: the retrained run is in %s\n", out);
    cJSON_Delete(record);
    free(ledger);
    return rc;
}

int repro_cmd_replay(int argc, char **argv)
{
    replay_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc == REPLAY_MATCH)
        rc = replay(&a);
    for (int i = a.n_user_sets; i < a.n_sets; i++)
        free((char *)a.sets[i]);
    free(a.sets);
    return rc < 0 ? 0 : rc;
}
