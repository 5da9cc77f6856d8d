/* `repro verify CONFIG [--vary KEY=V1,V2,...]... [--resume-at STEP]... ...`:
 * trains CONFIG once as a baseline, then once per varied setting and once
 * per interruption-and-resume, each in its own process (this binary's
 * `repro train`), and compares every run with the baseline
 * (repro_verify_compare). Writes DIR/verify.json; exit 0 when every run
 * matches, 1 when one differs, 2 on errors. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "repro/config.h"
#include "repro/record.h"

extern char **environ;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: repro verify CONFIG [--vary KEY=V1,V2,...]... [--resume-at STEP]...\n"
            "                    [--max-steps N] [--set KEY=VALUE]... [--out DIR] [--force]\n"
            "                    [--json] [--quiet] [--keep]\n"
            "\n"
            "Trains CONFIG as a baseline, then once for every listed variation and once\n"
            "for every interruption-and-resume, each in its own process, and checks that\n"
            "every run has the baseline's bits: the same ledger (every step's loss and\n"
            "fingerprints), final params_sha256, metrics (but samples_per_sec) and\n"
            "model.safetensors.\n"
            "\n"
            "options:\n"
            "  --vary KEY=V1,V2,...  train once per value with --set KEY=V, one key varied at a\n"
            "                        time (repeatable). KEY is a config key (threads,\n"
            "                        accum_steps, ...) or isa (the REPRO_ISA path: scalar, avx2,\n"
            "                        avx512, neon). Values equal to the baseline's are run too\n"
            "  --resume-at STEP      stop a run after STEP (repro train --stop-after) and\n"
            "                        resume it (repro train --resume) (repeatable)\n"
            "  --max-steps N         train N optimiser steps (--set max_steps=N)\n"
            "  --set KEY=VALUE       override a config key in every run (repeatable)\n"
            "  --out DIR             where the runs go (default: runs/verify-<UTC time>):\n"
            "                        DIR/base, DIR/KEY=V, DIR/resume-STEP, DIR/logs, DIR/verify.json\n"
            "  --force               reuse a DIR that is not empty (its runs are overwritten)\n"
            "  --keep                keep every run's checkpoints and model.safetensors (by\n"
            "                        default a run that matches keeps only run.json, ledger.jsonl\n"
            "                        and metrics.jsonl; the baseline and differing runs keep all)\n"
            "  --json                print verify.json instead of the table\n"
            "  --quiet               print nothing but errors; the exit status is the answer\n"
            "  --help                show this help\n"
            "\n"
            "exit status: 0 every run matches the baseline; 1 a run differs (or the config\n"
            "             is in mode: fast, which is not bit-exact); 2 usage error, or a run\n"
            "             failed to train; 130 interrupted\n"
            "\n"
            "example:\n"
            "  repro verify examples/fashion_mlp.yaml --vary threads=1,2,3 --vary accum_steps=1,4 \\\n"
            "      --resume-at 37 --max-steps 200\n");
}

/* ---- arguments ---- */

typedef struct vary {
    const char *key;
    char **values;
    int n_values;
} vary;

typedef struct verify_args {
    const char *config;
    const char *out;
    const char *max_steps; /* as typed, NULL when not given */
    const char **sets;
    int n_sets;
    vary *varies;
    int n_varies;
    long long *resume_at;
    int n_resume;
    int json, quiet, keep, force;
} verify_args;

static void args_free(verify_args *a)
{
    for (int i = 0; i < a->n_varies; i++) {
        for (int j = 0; j < a->varies[i].n_values; j++)
            free(a->varies[i].values[j]);
        free(a->varies[i].values);
        free((char *)a->varies[i].key);
    }
    free(a->varies);
    free(a->sets);
    free(a->resume_at);
}

/* "KEY=V1,V2,..." into v. Returns 0, or 2 after printing why. */
static int parse_vary(const char *spec, vary *v)
{
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec) {
        fprintf(stderr, "repro verify: --vary expects KEY=V1,V2,..., got '%s'\n", spec);
        return 2;
    }
    if (eq[1] == '\0') {
        fprintf(stderr, "repro verify: --vary '%s' has no values\n", spec);
        return 2;
    }
    v->key = strndup(spec, (size_t)(eq - spec));
    v->values = calloc(strlen(eq) + 1, sizeof *v->values);
    if (!v->key || !v->values) {
        fprintf(stderr, "repro verify: out of memory\n");
        return 2;
    }
    for (const char *p = eq + 1;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0) {
            fprintf(stderr, "repro verify: --vary '%s' has an empty value\n", spec);
            return 2;
        }
        if (!(v->values[v->n_values++] = strndup(p, len))) {
            fprintf(stderr, "repro verify: out of memory\n");
            return 2;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

static int parse_step(const char *opt, const char *v, long long *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < 1) {
        fprintf(stderr, "repro verify: %s expects a positive integer, got '%s'\n", opt, v);
        return 2;
    }
    *out = x;
    return 0;
}

/* Returns 0, 1 for --help (printed), 2 on a usage error (printed). */
static int parse_args(int argc, char **argv, verify_args *a)
{
    a->sets = calloc((size_t)argc, sizeof *a->sets);
    a->varies = calloc((size_t)argc, sizeof *a->varies);
    a->resume_at = calloc((size_t)argc, sizeof *a->resume_at);
    if (!a->sets || !a->varies || !a->resume_at) {
        fprintf(stderr, "repro verify: out of memory\n");
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(stdout);
            return 1;
        } else if (!strcmp(arg, "--vary") || !strcmp(arg, "--resume-at") || !strcmp(arg, "--max-steps") ||
                   !strcmp(arg, "--set") || !strcmp(arg, "--out")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "repro verify: %s needs a value\n", arg);
                return 2;
            }
            const char *v = argv[++i];
            long long step;
            if (!strcmp(arg, "--vary")) {
                if (parse_vary(v, &a->varies[a->n_varies++]))
                    return 2;
            } else if (!strcmp(arg, "--resume-at")) {
                if (parse_step(arg, v, &step))
                    return 2;
                a->resume_at[a->n_resume++] = step;
            } else if (!strcmp(arg, "--max-steps")) {
                if (parse_step(arg, v, &step))
                    return 2;
                a->max_steps = v;
            } else if (!strcmp(arg, "--set")) {
                a->sets[a->n_sets++] = v;
            } else {
                a->out = v;
            }
        } else if (!strcmp(arg, "--json")) {
            a->json = 1;
        } else if (!strcmp(arg, "--quiet") || !strcmp(arg, "-q")) {
            a->quiet = 1;
        } else if (!strcmp(arg, "--keep")) {
            a->keep = 1;
        } else if (!strcmp(arg, "--force")) {
            a->force = 1;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            fprintf(stderr, "repro verify: unknown option '%s' (see 'repro verify --help')\n", arg);
            return 2;
        } else if (!a->config) {
            a->config = arg;
        } else {
            fprintf(stderr, "repro verify: unexpected argument '%s' (one CONFIG only)\n", arg);
            return 2;
        }
    }
    if (!a->config) {
        fprintf(stderr, "repro verify: missing CONFIG (see 'repro verify --help')\n");
        return 2;
    }
    return 0;
}

/* ---- the runs ---- */

enum { MAX_ARGS = 64 };

typedef struct job {
    char name[192];     /* "base", "threads=2", "resume@37" */
    char dir[1280];
    const char *key;    /* the varied key, or NULL */
    const char *value;
    char set[4096];     /* "KEY=V", the variation's --set */
    long long resume_at; /* > 0 for an interruption-and-resume */
    /* outcome */
    int exit_status;    /* of the failing (or last) process */
    double seconds;
    char result[16];    /* baseline, identical, different, error */
    char commands[2][8192];
    int n_commands;
    repro_verify_outcome outcome;
    char error[3000];
    char log[2600];     /* its processes' stdout and stderr */
} job;

typedef struct verifier {
    verify_args *a;
    char exe[4096];
    char out[1024];
    char max_steps_set[64];
    job *jobs;
    int n_jobs;
    int64_t base_steps;
} verifier;

/* Shell-quotes argv into buf (for verify.json and messages). */
static void format_command(char *const *argv, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; argv[i] && used < n; i++) {
        const char *s = argv[i];
        int plain = *s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=,:@+") ==
                              strlen(s);
        used += (size_t)snprintf(buf + used, n - used, "%s%s%s%s", i ? " " : "", plain ? "" : "'", s,
                                 plain ? "" : "'");
    }
}

/* The environment with REPRO_ISA replaced by isa (NULL: unchanged). */
static char **child_env(const char *isa, char *slot, size_t slot_size)
{
    if (!isa)
        return environ;
    int n = 0;
    while (environ[n])
        n++;
    char **env = calloc((size_t)n + 2, sizeof *env);
    if (!env)
        return NULL;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (strncmp(environ[i], "REPRO_ISA=", 10) != 0)
            env[k++] = environ[i];
    snprintf(slot, slot_size, "REPRO_ISA=%s", isa);
    env[k] = slot;
    return env;
}

/* Runs argv with stdout and stderr appended to log; returns the exit status
 * (128 + signal when killed), or -1 when it could not start. */
static int run_child(const char *exe, char *const *argv, const char *log, const char *isa)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    char slot[256];
    char **env = child_env(isa, slot, sizeof slot);
    pid_t pid;
    int rc = env ? posix_spawn(&pid, exe, &fa, NULL, argv, env) : ENOMEM;
    posix_spawn_file_actions_destroy(&fa);
    if (env && env != environ)
        free(env);
    if (rc != 0) {
        fprintf(stderr, "repro verify: cannot start '%s': %s\n", exe, strerror(rc));
        return -1;
    }
    int ws;
    while (waitpid(pid, &ws, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

/* argv for `repro train CONFIG ...` of job j (extra: --stop-after S). */
static int train_argv(const verifier *v, const job *j, const char *stop_after, char **argv)
{
    const verify_args *a = v->a;
    int n = 0;
    argv[n++] = (char *)v->exe;
    argv[n++] = "train";
    argv[n++] = (char *)a->config;
    argv[n++] = "--quiet";
    argv[n++] = "--out";
    argv[n++] = (char *)j->dir;
    if (a->force)
        argv[n++] = "--force";
    for (int i = 0; i < a->n_sets && n < MAX_ARGS - 8; i++) {
        argv[n++] = "--set";
        argv[n++] = (char *)a->sets[i];
    }
    if (a->max_steps) {
        argv[n++] = "--set";
        argv[n++] = (char *)v->max_steps_set;
    }
    if (j->key && strcmp(j->key, "isa") != 0) {
        argv[n++] = "--set";
        argv[n++] = (char *)j->set;
    }
    if (stop_after) {
        argv[n++] = "--stop-after";
        argv[n++] = (char *)stop_after;
    }
    argv[n] = NULL;
    return n;
}

/* The last lines of a log, indented, on stderr. */
static void show_log_tail(const char *log, int lines)
{
    FILE *f = fopen(log, "r");
    if (!f)
        return;
    char *ring[16] = {0};
    size_t caps[16] = {0};
    int n = 0;
    if (lines > 16)
        lines = 16;
    while (getline(&ring[n % lines], &caps[n % lines], f) > 0)
        n++;
    fclose(f);
    for (int i = n > lines ? n - lines : 0; i < n; i++)
        fprintf(stderr, "    %s", ring[i % lines]);
    for (int i = 0; i < 16; i++)
        free(ring[i]);
}

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Runs one process of job j; on failure records why. Returns its status. */
static int run_step(verifier *v, job *j, char **argv, const char *log)
{
    char *cmd = j->commands[j->n_commands];
    format_command(argv, cmd, sizeof j->commands[0]);
    j->n_commands++;
    int rc = run_child(v->exe, argv, log, j->key && !strcmp(j->key, "isa") ? j->value : NULL);
    j->exit_status = rc;
    if (rc != 0) {
        snprintf(j->result, sizeof j->result, "error");
        snprintf(j->error, sizeof j->error, "exited with status %d (log: %s)", rc, log);
    }
    return rc;
}

/* Trains job j (two processes for a resume). 0 when it trained. */
static int train_job(verifier *v, job *j)
{
    char log[2600];
    const char *leaf = strrchr(j->dir, '/') ? strrchr(j->dir, '/') + 1 : j->dir;
    snprintf(log, sizeof log, "%s/logs/%s.log", v->out, leaf);
    unlink(log);
    char *argv[MAX_ARGS];
    char stop[32];
    double t0 = now_sec();
    int rc;
    if (j->resume_at > 0) {
        snprintf(stop, sizeof stop, "%lld", j->resume_at);
        train_argv(v, j, stop, argv);
        rc = run_step(v, j, argv, log);
        if (rc == 0) {
            char *rargv[] = {v->exe, "train", "--resume", j->dir, "--quiet", NULL};
            rc = run_step(v, j, rargv, log);
        }
    } else {
        train_argv(v, j, NULL, argv);
        rc = run_step(v, j, argv, log);
    }
    j->seconds = now_sec() - t0;
    snprintf(j->log, sizeof j->log, "%s", log);
    return rc;
}

/* ---- verify.json and the table ---- */

static cJSON *job_json(const job *j)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", j->name);
    if (j->key) {
        cJSON *var = cJSON_AddObjectToObject(o, "variation");
        cJSON_AddStringToObject(var, "key", j->key);
        cJSON_AddStringToObject(var, "value", j->value);
    } else if (j->resume_at > 0) {
        cJSON *var = cJSON_AddObjectToObject(o, "variation");
        cJSON_AddNumberToObject(var, "resume_at", (double)j->resume_at);
    } else {
        cJSON_AddNullToObject(o, "variation");
    }
    cJSON_AddStringToObject(o, "dir", j->dir);
    cJSON *cmds = cJSON_AddArrayToObject(o, "commands");
    for (int i = 0; i < j->n_commands; i++)
        cJSON_AddItemToArray(cmds, cJSON_CreateString(j->commands[i]));
    cJSON_AddNumberToObject(o, "exit_status", j->exit_status);
    cJSON_AddNumberToObject(o, "seconds", j->seconds);
    cJSON_AddStringToObject(o, "result", j->result);
    if (j->outcome.params_sha256[0])
        cJSON_AddStringToObject(o, "params_sha256", j->outcome.params_sha256);
    else
        cJSON_AddNullToObject(o, "params_sha256");
    if (j->outcome.model_sha256[0])
        cJSON_AddStringToObject(o, "model_sha256", j->outcome.model_sha256);
    else
        cJSON_AddNullToObject(o, "model_sha256");
    if (j->outcome.first_step >= 0)
        cJSON_AddNumberToObject(o, "first_divergent_step", (double)j->outcome.first_step);
    else
        cJSON_AddNullToObject(o, "first_divergent_step");
    if (j->error[0])
        cJSON_AddStringToObject(o, "error", j->error);
    else if (j->outcome.detail[0])
        cJSON_AddStringToObject(o, "detail", j->outcome.detail);
    return o;
}

/* "identical" / "different" / "error" over the jobs run so far. */
static const char *overall(const verifier *v, int done)
{
    const char *r = "identical";
    for (int i = 0; i < done; i++) {
        if (!strcmp(v->jobs[i].result, "error"))
            return "error";
        if (!strcmp(v->jobs[i].result, "different"))
            r = "different";
    }
    return r;
}

static cJSON *verify_json(const verifier *v, int done)
{
    const verify_args *a = v->a;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "format", "repro-verify/1");
    cJSON_AddStringToObject(o, "config", a->config);
    cJSON *sets = cJSON_AddArrayToObject(o, "overrides");
    for (int i = 0; i < a->n_sets; i++)
        cJSON_AddItemToArray(sets, cJSON_CreateString(a->sets[i]));
    if (a->max_steps)
        cJSON_AddItemToArray(sets, cJSON_CreateString(v->max_steps_set));
    cJSON_AddStringToObject(o, "out", v->out);
    cJSON_AddStringToObject(o, "result", overall(v, done));
    cJSON_AddBoolToObject(o, "complete", done == v->n_jobs);
    cJSON *runs = cJSON_AddArrayToObject(o, "runs");
    for (int i = 0; i < done; i++)
        cJSON_AddItemToArray(runs, job_json(&v->jobs[i]));
    return o;
}

static int write_verify_json(const verifier *v, int done)
{
    cJSON *o = verify_json(v, done);
    char *text = o ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    char path[4200];
    snprintf(path, sizeof path, "%s/verify.json", v->out);
    repro_error err;
    int ok = text && repro_write_file_atomic(path, text, strlen(text), &err) == REPRO_OK;
    if (!ok)
        fprintf(stderr, "repro verify: cannot write '%s': %s\n", path, text ? err.message : "out of memory");
    free(text);
    return ok;
}

static void print_table(const verifier *v)
{
    int w = 9;
    for (int i = 0; i < v->n_jobs; i++)
        if ((int)strlen(v->jobs[i].name) > w)
            w = (int)strlen(v->jobs[i].name);
    printf("%-*s  %-16s  %s\n", w, "variation", "params_sha256", "result");
    int differ = 0, errors = 0;
    for (int i = 0; i < v->n_jobs; i++) {
        const job *j = &v->jobs[i];
        char result[320];
        if (!strcmp(j->result, "different")) {
            differ++;
            if (j->outcome.first_step >= 0)
                snprintf(result, sizeof result, "differs from step %lld (%s)", (long long)j->outcome.first_step,
                         j->outcome.detail);
            else
                snprintf(result, sizeof result, "differs: %s", j->outcome.detail);
        } else if (!strcmp(j->result, "error")) {
            errors++;
            snprintf(result, sizeof result, "error (exit %d)", j->exit_status);
        } else {
            snprintf(result, sizeof result, "%s", !strcmp(j->result, "baseline") ? "(baseline)" : "identical");
        }
        printf("%-*s  %-16.16s  %s\n", w, j->name, j->outcome.params_sha256[0] ? j->outcome.params_sha256 : "-",
               result);
    }
    if (errors)
        printf("verify: %d of %d runs failed to train\n", errors, v->n_jobs);
    else if (differ)
        printf("verify: %d of %d runs differ from the baseline\n", differ, v->n_jobs - 1);
    else
        printf("verify: all %d runs are bit-for-bit identical to the baseline\n", v->n_jobs - 1);
    printf("verify.json: %s/verify.json\n", v->out);
}

/* ---- setup ---- */

/* Loads the config as a run would see it with extra (or NULL) added to the
 * --set list; refuses mode: fast. Returns 0, or the exit status. */
static int check_config(const verifier *v, const char *extra, const char *what, repro_config *cfg)
{
    const verify_args *a = v->a;
    const char *ov[MAX_ARGS];
    int n = 0;
    for (int i = 0; i < a->n_sets && n < MAX_ARGS - 2; i++)
        ov[n++] = a->sets[i];
    if (a->max_steps)
        ov[n++] = v->max_steps_set;
    if (extra)
        ov[n++] = extra;
    repro_error err;
    if (repro_config_load(a->config, ov, n, cfg, &err) != REPRO_OK) {
        fprintf(stderr, "repro verify: %s%s%s\n", what ? what : "", what ? ": " : "", err.message);
        return 2;
    }
    if (cfg->mode == REPRO_MODE_FAST) {
        fprintf(stderr, "repro verify: %s%smode: fast is not bit-exact, so there is nothing to verify "
                        "(use mode: exact)\n", what ? what : "", what ? ": " : "");
        return 1;
    }
    return 0;
}

static int dir_is_nonempty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n > 0;
}

static int make_dirs(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "repro verify: cannot create '%s': %s\n", path, strerror(errno));
            return 2;
        }
        *p = c;
        if (c == '\0')
            return 0;
    }
}

/* A directory name from a job name: characters a shell or a path would
 * mind become '_'. */
static void dir_name(const char *out, const char *name, char *buf, size_t n)
{
    int len = snprintf(buf, n, "%s/", out);
    for (const char *p = name; *p && (size_t)len + 1 < n; p++)
        buf[len++] = (strchr("/\\ \t\n'\"*?$`", *p) || (unsigned char)*p < 32) ? '_' : *p;
    buf[len] = '\0';
}

/* Builds the job list; checks every variation's config. 0 or exit status. */
static int plan(verifier *v, const repro_config *base)
{
    const verify_args *a = v->a;
    int n = 1 + a->n_resume;
    for (int i = 0; i < a->n_varies; i++)
        n += a->varies[i].n_values;
    v->jobs = calloc((size_t)n, sizeof *v->jobs);
    if (!v->jobs) {
        fprintf(stderr, "repro verify: out of memory\n");
        return 2;
    }
    job *j = &v->jobs[v->n_jobs++];
    snprintf(j->name, sizeof j->name, "base");
    dir_name(v->out, "base", j->dir, sizeof j->dir);
    repro_config *cfg = malloc(sizeof *cfg);
    if (!cfg) {
        fprintf(stderr, "repro verify: out of memory\n");
        return 2;
    }
    int rc = 0;
    for (int i = 0; rc == 0 && i < a->n_varies; i++) {
        const vary *va = &a->varies[i];
        for (int k = 0; rc == 0 && k < va->n_values; k++) {
            j = &v->jobs[v->n_jobs++];
            j->key = va->key;
            j->value = va->values[k];
            snprintf(j->name, sizeof j->name, "%s=%s", va->key, va->values[k]);
            snprintf(j->set, sizeof j->set, "%s=%s", va->key, va->values[k]);
            dir_name(v->out, j->name, j->dir, sizeof j->dir);
            for (int p = 0; p < v->n_jobs - 1; p++)
                if (!strcmp(v->jobs[p].dir, j->dir)) {
                    fprintf(stderr, "repro verify: --vary %s is listed twice\n", j->name);
                    rc = 2;
                }
            if (rc == 0 && strcmp(va->key, "isa") != 0)
                rc = check_config(v, j->set, j->name, cfg);
        }
    }
    for (int i = 0; rc == 0 && i < a->n_resume; i++) {
        long long s = a->resume_at[i];
        if (base->max_steps > 0 && s >= base->max_steps) {
            fprintf(stderr, "repro verify: --resume-at %lld is not before the last step (max_steps %lld)\n", s,
                    (long long)base->max_steps);
            rc = 2;
            break;
        }
        j = &v->jobs[v->n_jobs++];
        j->resume_at = s;
        snprintf(j->name, sizeof j->name, "resume@%lld", s);
        char leaf[64];
        snprintf(leaf, sizeof leaf, "resume-%lld", s);
        dir_name(v->out, leaf, j->dir, sizeof j->dir);
        for (int p = 0; p < v->n_jobs - 1; p++)
            if (!strcmp(v->jobs[p].dir, j->dir)) {
                fprintf(stderr, "repro verify: --resume-at %lld is listed twice\n", s);
                rc = 2;
            }
    }
    free(cfg);
    return rc;
}

static void default_out(char *buf, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y%m%d-%H%M%S", &tm);
    snprintf(buf, n, "runs/verify-%s", when);
}

/* Removes a matching run's *.safetensors (checkpoints, model). */
static void prune(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 12 && !strcmp(e->d_name + n - 12, ".safetensors")) {
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

/* Compares job j (trained) with the baseline; sets its result. */
static int compare_job(verifier *v, job *j)
{
    repro_error err;
    if (repro_verify_compare(v->jobs[0].dir, j->dir, &j->outcome, &err) != REPRO_OK) {
        snprintf(j->result, sizeof j->result, "error");
        snprintf(j->error, sizeof j->error, "%s", err.message);
        fprintf(stderr, "repro verify: cannot compare '%s': %s\n", j->name, err.message);
        return 2;
    }
    if (j == &v->jobs[0]) {
        snprintf(j->result, sizeof j->result, "baseline");
        j->outcome.first_step = -1;
        j->outcome.detail[0] = '\0';
        return 0;
    }
    snprintf(j->result, sizeof j->result, "%s", j->outcome.identical ? "identical" : "different");
    if (j->outcome.identical && !v->a->keep)
        prune(j->dir);
    return j->outcome.identical ? 0 : 1;
}

/* The baseline's number of steps (its ledger length). */
static int64_t ledger_steps(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/ledger.jsonl", dir);
    repro_ledger_entry *e;
    int64_t n;
    repro_error err;
    if (repro_ledger_read(path, &e, &n, &err) != REPRO_OK)
        return -1;
    int64_t last = n > 0 ? e[n - 1].step : 0;
    free(e);
    return last;
}

static int run_all(verifier *v)
{
    int worst = 0;
    for (int i = 0; i < v->n_jobs; i++) {
        job *j = &v->jobs[i];
        if (!v->a->quiet) {
            fprintf(stderr, "[%d/%d] %s ... ", i + 1, v->n_jobs, j->name);
            fflush(stderr);
        }
        if (j->resume_at > 0 && j->resume_at >= v->base_steps) {
            if (!v->a->quiet)
                fputs("\n", stderr);
            fprintf(stderr, "repro verify: --resume-at %lld is not before the baseline's last step (%lld)\n",
                    j->resume_at, (long long)v->base_steps);
            snprintf(j->result, sizeof j->result, "error");
            snprintf(j->error, sizeof j->error, "--resume-at %lld is not before the last step %lld", j->resume_at,
                     (long long)v->base_steps);
            worst = 2;
            write_verify_json(v, i + 1);
            continue;
        }
        int rc = train_job(v, j);
        int r = rc == 0 ? compare_job(v, j) : 2;
        if (!v->a->quiet)
            fprintf(stderr, "%s (%.1f s)\n", rc == 0 ? j->result : "error", j->seconds);
        if (rc != 0 && rc != 130) {
            fprintf(stderr, "repro verify: run '%s' failed: '%s' %s; its last lines:\n", j->name,
                    j->n_commands ? j->commands[j->n_commands - 1] : "", j->error);
            show_log_tail(j->log, 8);
        }
        write_verify_json(v, i + 1);
        if (rc == 130) {
            fprintf(stderr, "repro verify: interrupted\n");
            return 130;
        }
        if (r > worst)
            worst = r;
        if (i == 0) {
            if (r != 0) {
                fprintf(stderr, "repro verify: the baseline failed; nothing to compare with\n");
                return 2;
            }
            v->base_steps = ledger_steps(j->dir);
        }
    }
    return worst;
}

int repro_cmd_verify(int argc, char **argv)
{
    verify_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc) {
        args_free(&a);
        return rc == 1 ? 0 : 2;
    }
    verifier v = {.a = &a};
    ssize_t len = readlink("/proc/self/exe", v.exe, sizeof v.exe - 1);
    if (len > 0)
        v.exe[len] = '\0';
    else
        snprintf(v.exe, sizeof v.exe, "%s", argv[-1] ? argv[-1] : "repro");
    if (a.max_steps)
        snprintf(v.max_steps_set, sizeof v.max_steps_set, "max_steps=%s", a.max_steps);
    if (a.out)
        snprintf(v.out, sizeof v.out, "%s", a.out);
    else
        default_out(v.out, sizeof v.out);

    repro_config *base = malloc(sizeof *base);
    rc = base ? check_config(&v, NULL, NULL, base) : 2;
    if (rc == 0)
        rc = plan(&v, base);
    free(base);
    if (rc == 0 && dir_is_nonempty(v.out) && !a.force) {
        fprintf(stderr, "repro verify: '%s' exists and is not empty; use --force to reuse it\n", v.out);
        rc = 2;
    }
    if (rc == 0) {
        char logs[1100];
        snprintf(logs, sizeof logs, "%s/logs", v.out);
        rc = make_dirs(logs);
    }
    if (rc == 0) {
        rc = run_all(&v);
        if (a.json && !a.quiet) {
            cJSON *o = verify_json(&v, v.n_jobs);
            char *text = cJSON_Print(o);
            puts(text ? text : "null");
            free(text);
            cJSON_Delete(o);
        } else if (!a.quiet && rc != 130) {
            print_table(&v);
        }
    }
    free(v.jobs);
    args_free(&a);
    return rc;
}
