/* The settings a resume may change: see resume_policy.h. */
#include "train/resume_policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A condition on the run's config and the new one; NULL when the key is
 * always neutral. Returns NULL when it holds, else why not. */
typedef const char *(*resume_condition)(const repro_config *run_cfg, const repro_config *new_cfg);

typedef struct resume_rule {
    const char *key;    /* a dotted config key, as --set spells it */
    resume_condition condition;
} resume_rule;

static const char *exact_both(const repro_config *run_cfg, const repro_config *new_cfg)
{
    if (run_cfg->mode != REPRO_MODE_EXACT || new_cfg->mode != REPRO_MODE_EXACT)
        return "the CPU and the GPU give the same bits only in mode exact";
    return NULL;
}

/* The keys docs/config.md says never change a bit. One row adds a key. */
static const resume_rule rules[] = {
    {"threads", NULL},            /* output elements split over threads, never a sum */
    {"eval_batch_size", NULL},    /* evaluation sums canonically, whatever the batch */
    {"accum_steps", NULL},        /* micro-batch gradients add in the step's one order */
    {"device", exact_both},       /* the CUDA kernels are the CPU's evaluation order */
    {"loader.workers", NULL},     /* every sample's randomness is keyed by its position */
    {"loader.prefetch", NULL},
    {"loader.on_device", NULL},   /* the same rows and positions the host loader gives */
    {"checkpoint.every_steps", NULL}, /* snapshots the arithmetic never reads */
    {"checkpoint.every_epoch", NULL},
    {"checkpoint.every_seconds", NULL},
    {"checkpoint.keep", NULL},
};

static const resume_rule *find_rule(const char *key, size_t len)
{
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (strlen(rules[i].key) == len && strncmp(rules[i].key, key, len) == 0)
            return &rules[i];
    return NULL;
}

/* "threads, eval_batch_size, ..." */
static void rule_names(char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof rules / sizeof rules[0] && n < size; i++)
        n += (size_t)snprintf(out + n, size - n, "%s%s", i ? ", " : "", rules[i].key);
}

static repro_status refuse(const char *key, size_t len, const char *why, repro_error *err)
{
    char names[512];
    rule_names(names, sizeof names);
    if (why)
        return repro_fail(err, REPRO_ERR_CONFIG, "--set %.*s cannot change on resume: %s", (int)len, key, why);
    return repro_fail(err, REPRO_ERR_CONFIG, "--set %.*s cannot change on resume: it may change the bits, and "
                      "the resumed run would not be the run that never stopped (a resume may change only %s; "
                      "start a new run for anything else)", (int)len, key, names);
}

repro_status repro_resume_key_check(const char *override, repro_error *err)
{
    const char *eq = strchr(override, '=');
    size_t len = eq ? (size_t)(eq - override) : strlen(override);
    if (!eq)
        return repro_fail(err, REPRO_ERR_CONFIG, "--set %s: expected KEY=VALUE", override);
    return find_rule(override, len) ? REPRO_OK : refuse(override, len, NULL, err);
}

/* The config as a JSON object (repro_config_to_json's canonical text). */
static cJSON *config_json(const repro_config *cfg)
{
    char *text = repro_config_to_json(cfg);
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    free(text);
    return o;
}

/* The item at a dotted key ("loader.workers"), and its parent. */
static cJSON *at_key(cJSON *root, const char *key, cJSON **parent, const char **leaf)
{
    char part[128];
    cJSON *o = root;
    *parent = NULL;
    for (const char *p = key; o;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (len >= sizeof part)
            return NULL;
        memcpy(part, p, len);
        part[len] = '\0';
        *parent = o;
        *leaf = p;
        o = cJSON_GetObjectItemCaseSensitive(o, part);
        if (!dot)
            return o;
        p = dot + 1;
    }
    return NULL;
}

/* For every rule: records a change of its key, checks its condition, and
 * puts the run's value into now, so that what is left to compare is the
 * rest of the config. */
static repro_status take_rules(const repro_config *run_cfg, const repro_config *new_cfg, cJSON *was, cJSON *now,
                               cJSON *changes, repro_error *err)
{
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const resume_rule *r = &rules[i];
        cJSON *pa, *pb;
        const char *leaf_a, *leaf_b;
        cJSON *a = at_key(was, r->key, &pa, &leaf_a), *b = at_key(now, r->key, &pb, &leaf_b);
        if (!a || !b || cJSON_Compare(a, b, 1))
            continue; /* absent from both or unchanged */
        const char *why = r->condition ? r->condition(run_cfg, new_cfg) : NULL;
        if (why)
            return refuse(r->key, strlen(r->key), why, err);
        cJSON *change = cJSON_CreateObject();
        cJSON_AddItemToObject(change, "from", cJSON_Duplicate(a, 1));
        cJSON_AddItemToObject(change, "to", cJSON_Duplicate(b, 1));
        cJSON_AddItemToObject(changes, r->key, change);
        cJSON_ReplaceItemViaPointer(pb, b, cJSON_Duplicate(a, 1));
    }
    return REPRO_OK;
}

/* The first top-level or section key whose values differ, for the message. */
static const char *first_difference(const cJSON *a, const cJSON *b, char *buf, size_t size)
{
    const cJSON *x;
    cJSON_ArrayForEach(x, a)
    {
        const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
        if (y && cJSON_Compare(x, y, 1))
            continue;
        if (y && cJSON_IsObject(x) && cJSON_IsObject(y)) {
            const cJSON *u;
            cJSON_ArrayForEach(u, x)
            {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(y, u->string);
                if (!v || !cJSON_Compare(u, v, 1)) {
                    snprintf(buf, size, "%s.%s", x->string, u->string);
                    return buf;
                }
            }
        }
        snprintf(buf, size, "%s", x->string);
        return buf;
    }
    return "(a key)";
}

repro_status repro_resume_changes(const repro_config *run_cfg, const repro_config *new_cfg, cJSON **changes,
                                  repro_error *err)
{
    *changes = NULL;
    cJSON *was = config_json(run_cfg), *now = config_json(new_cfg), *c = cJSON_CreateObject();
    repro_status st = was && now && c ? REPRO_OK : repro_fail(err, REPRO_ERR_NOMEM, "cannot compare the configs");
    if (st == REPRO_OK)
        st = take_rules(run_cfg, new_cfg, was, now, c, err);
    if (st == REPRO_OK && !cJSON_Compare(was, now, 1)) {
        char key[256];
        const char *k = first_difference(was, now, key, sizeof key);
        st = refuse(k, strlen(k), NULL, err);
    }
    cJSON_Delete(was);
    cJSON_Delete(now);
    if (st == REPRO_OK)
        *changes = c;
    else
        cJSON_Delete(c);
    return st;
}

repro_status repro_resume_record(repro_run *run, int64_t step, const char *checkpoint, const char *changes_json,
                                 repro_error *err)
{
    const cJSON *old = cJSON_GetObjectItemCaseSensitive(repro_run_record(run), "resumes");
    cJSON *list = cJSON_IsArray(old) ? cJSON_Duplicate(old, 1) : cJSON_CreateArray();
    cJSON *entry = cJSON_CreateObject();
    cJSON *changed = changes_json && changes_json[0] ? cJSON_Parse(changes_json) : cJSON_CreateObject();
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!list || !entry || !changed) {
        cJSON_Delete(list);
        cJSON_Delete(entry);
        cJSON_Delete(changed);
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot record the resume in run.json");
    }
    cJSON_AddNumberToObject(entry, "step", (double)step);
    cJSON_AddStringToObject(entry, "checkpoint", checkpoint ? checkpoint : "");
    cJSON_AddStringToObject(entry, "time", when);
    cJSON_AddItemToObject(entry, "changed", changed);
    cJSON_AddItemToArray(list, entry);
    return repro_run_set_json(run, "resumes", list, err);
}
