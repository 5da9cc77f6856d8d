/* repro sample RUN_DIR --prompt TEXT [...]: text from a trained language
 * model (a run of data.format text with an lm_cross_entropy head).
 *
 * Each step runs the model over every prompt's last `context` tokens (a
 * prompt shorter than the context sits at positions 0.. with id 0 after it:
 * a causal model's output at the last real position does not see them) and
 * draws each prompt's next token with train/generate.h: Philox at (seed,
 * position in the sequence). So the same command prints the same text on
 * any thread count or device, and a prompt's text is the same alone or
 * batched with others. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "backend/backend.h"
#include "cli/commands.h"
#include "nn/model.h"
#include "repro/config.h"
#include "repro/data.h"
#include "repro/isa.h"
#include "repro/record.h"
#include "train/generate.h"

enum { MAX_PROMPTS = 256 };

static const char usage[] =
    "usage: repro sample RUN_DIR [--prompt TEXT]... [--prompts FILE] [--tokens N] [--seed S]\n"
    "                    [--temperature T] [--top-k K] [--threads N] [--device cpu|cuda] [--json]\n"
    "Generates text from a trained character language model (a run of data.format text\n"
    "with an lm_cross_entropy head): each prompt, then N tokens (default 200) drawn one at\n"
    "a time at temperature T (default 1; 0 = greedy) from the K most likely (default all).\n"
    "Token i of a sequence is drawn with Philox at (seed, i), so the same command prints\n"
    "the same text on any thread count or device, and a prompt's text does not depend on\n"
    "the other prompts. --prompt repeats; --prompts FILE reads one prompt a line.\n"
    "Output: each text and a newline (\"---\" lines between texts), or with --json one line\n"
    "{\"prompt\", \"text\"} a prompt. Exit 2: usage, run directory or prompt errors.";

typedef struct args {
    const char *run_dir, *device;
    char *prompts[MAX_PROMPTS];
    int n_prompts, own[MAX_PROMPTS];
    long tokens, top_k, threads;
    unsigned long long seed;
    float temperature;
    int json;
} args;

static int bad(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "repro sample: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n");
    return 2;
}

static int add_prompt(args *a, char *text, int own)
{
    if (a->n_prompts == MAX_PROMPTS)
        return bad("more than %s prompts%s", "256", "");
    a->own[a->n_prompts] = own;
    a->prompts[a->n_prompts++] = text;
    return 0;
}

static int read_prompts(args *a, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return bad("cannot open '%s': %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n > 0)
            rc = add_prompt(a, strdup(line), 1);
    }
    free(line);
    fclose(f);
    return rc;
}

static int number(const char *flag, const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double d = v ? strtod(v, &end) : 0;
    if (!v || errno || end == v || *end || !(d >= lo && d <= hi))
        return bad("%s needs a number in range, not '%s'", flag, v ? v : "");
    *out = d;
    return 0;
}

static int parse(int argc, char **argv, args *a)
{
    memset(a, 0, sizeof *a);
    a->tokens = 200;
    a->temperature = 1.0f;
    a->threads = 1;
    a->device = "cpu";
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double d;
        int rc = 0;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            puts(usage);
            exit(0);
        } else if (!strcmp(o, "--json")) {
            a->json = 1;
            continue;
        } else if (!strcmp(o, "--prompt")) {
            rc = v ? add_prompt(a, argv[i + 1], 0) : bad("--prompt needs TEXT%s%s", "", "");
        } else if (!strcmp(o, "--prompts")) {
            rc = v ? read_prompts(a, v) : bad("--prompts needs FILE%s%s", "", "");
        } else if (!strcmp(o, "--tokens")) {
            rc = number(o, v, 0, 1e9, &d);
            a->tokens = (long)d;
        } else if (!strcmp(o, "--seed")) {
            rc = number(o, v, 0, 18446744073709551615.0, &d);
            a->seed = v ? strtoull(v, NULL, 10) : 0;
        } else if (!strcmp(o, "--temperature")) {
            rc = number(o, v, 0, 1e30, &d);
            a->temperature = (float)d;
        } else if (!strcmp(o, "--top-k")) {
            rc = number(o, v, 0, 1e9, &d);
            a->top_k = (long)d;
        } else if (!strcmp(o, "--threads")) {
            rc = number(o, v, 1, 1024, &d);
            a->threads = (long)d;
        } else if (!strcmp(o, "--device")) {
            a->device = v ? v : "";
            rc = strcmp(a->device, "cpu") && strcmp(a->device, "cuda") ? bad("--device is cpu or cuda, not '%s'%s",
                                                                             a->device, "") : 0;
        } else if (o[0] == '-' || a->run_dir) {
            return bad("unknown argument '%s'%s (try --help)", o, "");
        } else {
            a->run_dir = o;
            continue;
        }
        if (rc)
            return rc;
        i++;
    }
    if (!a->run_dir)
        return bad("no run directory given%s%s (try --help)", "", "");
    if (a->n_prompts == 0)
        return bad("no prompt given (--prompt TEXT or --prompts FILE)%s%s", "", "");
    return 0;
}

/* The run's config, from run.json's "config" (itself a valid config). */
static int load_config(const char *dir, repro_config *cfg, int *lm_head)
{
    char path[4096], tmp[] = "/tmp/repro-sample-XXXXXX";
    snprintf(path, sizeof path, "%s/run.json", dir);
    cJSON *run = NULL;
    repro_error err;
    if (repro_json_read_file(path, &run, &err) != REPRO_OK)
        return bad("'%s': %s", dir, err.message);
    char *text = cJSON_Print(cJSON_GetObjectItemCaseSensitive(run, "config"));
    cJSON_Delete(run);
    int fd = text ? mkstemp(tmp) : -1;
    if (fd < 0) {
        free(text);
        return bad("'%s': run.json has no config%s", dir, "");
    }
    int ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
    close(fd);
    free(text);
    repro_status st = ok ? repro_config_load(tmp, NULL, 0, cfg, &err) : REPRO_ERR_IO;
    unlink(tmp);
    if (st != REPRO_OK)
        return bad("'%s': cannot read the run's config: %s", dir, ok ? err.message : "cannot write a temporary file");
    *lm_head = -1;
    for (int h = 0; h < cfg->model.n_heads && *lm_head < 0; h++)
        if (cfg->model.heads[h].loss == REPRO_LOSS_LM_CROSS_ENTROPY)
            *lm_head = h;
    if (*lm_head < 0 || cfg->data.format != REPRO_DATA_TEXT)
        return bad("'%s': not a language model run (no head with loss lm_cross_entropy on data.format text)%s",
                   dir, "");
    return 0;
}

static int load_vocab(const char *dir, uint32_t **vocab, int32_t *n, int32_t *pad_id)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    cJSON *j = NULL;
    repro_error err;
    if (repro_json_read_file(path, &j, &err) != REPRO_OK)
        return bad("'%s': %s", dir, err.message);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    repro_status st = text ? repro_vocab_parse(path, text, vocab, n, pad_id, &err) : REPRO_ERR_NOMEM;
    free(text);
    return st ? bad("%s%s", text ? err.message : "out of memory", "") : 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Prompt k as token ids, with room for `extra` more; every character must be in the vocabulary. */
static int encode(const args *a, int k, const uint32_t *vocab, int32_t nv, int32_t **ids, int64_t *n, long extra)
{
    uint32_t *cp = NULL;
    int64_t len = 0;
    repro_error err;
    char name[64];
    snprintf(name, sizeof name, "prompt %d", k + 1);
    if (repro_utf8_decode(name, (const unsigned char *)a->prompts[k], strlen(a->prompts[k]), &cp, &len, &err))
        return bad("%s%s", err.message, "");
    if (len == 0) {
        free(cp);
        return bad("%s is empty%s", name, "");
    }
    *ids = malloc((size_t)(len + extra) * sizeof **ids);
    for (int64_t i = 0; *ids && i < len; i++) {
        const uint32_t *hit = bsearch(&cp[i], vocab, (size_t)nv, sizeof *vocab, cmp_u32);
        if (!hit) {
            char ch[8] = {0}, msg[160];
            ch[repro_utf8_encode(cp[i], ch)] = '\0';
            snprintf(msg, sizeof msg, "%s: character '%s' (U+%04X) at position %lld is not in the model's vocabulary",
                     name, ch, (unsigned)cp[i], (long long)i);
            free(cp);
            return bad("%s%s", msg, "");
        }
        (*ids)[i] = (int32_t)(hit - vocab);
    }
    free(cp);
    *n = len;
    return *ids ? 0 : bad("out of memory%s%s", "", "");
}

/* Parameters (and running statistics) from RUN/model.safetensors into the model. */
static repro_status load_weights(const char *dir, repro_model *m, const repro_backend *be, repro_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    repro_safetensors *f = NULL;
    repro_status st = repro_safetensors_read(path, &f, err);
    int64_t np = repro_model_n_params(m);
    float *host = st == REPRO_OK ? malloc((size_t)(np ? np : 1) * sizeof *host) : NULL;
    if (st == REPRO_OK && !host)
        st = repro_fail(err, REPRO_ERR_NOMEM, "out of memory for %lld parameters", (long long)np);
    for (int i = 0; st == REPRO_OK && i < repro_model_n_tensors(m); i++) {
        const repro_param_info *p = repro_model_tensor(m, i);
        int k = repro_safetensors_find(f, p->name);
        if (k < 0 || repro_safetensors_numel(f, k) != p->numel)
            st = repro_fail(err, REPRO_ERR_FORMAT, "'%s': tensor '%s' is %s", path, p->name,
                            k < 0 ? "missing" : "of the wrong size");
        else
            memcpy(host + p->offset, repro_safetensors_data(f, k), (size_t)p->numel * sizeof(float));
    }
    if (st == REPRO_OK)
        st = repro_be_upload(be, repro_model_params(m), host, (size_t)np * sizeof *host, err);
    free(host);
    repro_safetensors_free(f);
    return st;
}

typedef struct gen {
    int32_t *ids[MAX_PROMPTS];
    int64_t len[MAX_PROMPTS];
} gen;

/* pad_id: -1, or the vocabulary's padding token (REPRO_TEXT_PAD_ID = 0), which is never drawn. */
static repro_status generate(const args *a, const repro_config *cfg, int head, int32_t nv, int32_t pad_id, gen *g,
                             repro_error *err)
{
    int64_t T = cfg->data.context, n = a->n_prompts;
    repro_isa isa;
    repro_backend *be = NULL;
    repro_model *m = NULL;
    repro_status st = repro_isa_choose(getenv("REPRO_ISA"), &isa, err);
    if (st == REPRO_OK)
        st = !strcmp(a->device, "cuda") ? repro_backend_create_cuda(0, 0, &be, err)
                                        : repro_backend_create_cpu(isa, (int)a->threads, &be, err);
    if (st == REPRO_OK)
        st = repro_model_create(&cfg->model, NULL, (int)T, n, be, &m, err);
    if (st == REPRO_OK)
        st = load_weights(a->run_dir, m, be, err);
    int64_t W = m ? repro_model_head_width(m, head) : 0, V = W / T;
    float *x = malloc((size_t)(n * T) * sizeof *x), *out = malloc((size_t)(n * W) * sizeof *out), *dx = NULL;
    if (st == REPRO_OK && (!x || !out))
        st = repro_fail(err, REPRO_ERR_NOMEM, "out of memory for the model's input and output");
    if (st == REPRO_OK && (W % T || V < nv))
        st = repro_fail(err, REPRO_ERR_CONFIG, "the lm head has %lld outputs, not [%lld, >= %d]", (long long)W,
                        (long long)T, (int)nv);
    if (st == REPRO_OK)
        st = repro_be_alloc(be, (size_t)(n * T) * sizeof *x, (void **)&dx, err);
    for (long step = 0; st == REPRO_OK && step < a->tokens; step++) {
        for (int64_t k = 0; k < n; k++) {
            int64_t w = g->len[k] < T ? g->len[k] : T;
            /* the last w tokens at positions 0..w-1, then id 0 (the pad, when there is one: a
               pad_mask hides it; a causal model never reads later positions anyway) */
            for (int64_t t = 0; t < T; t++)
                x[k * T + t] = t < w ? (float)g->ids[k][g->len[k] - w + t] : 0.0f;
        }
        st = repro_be_upload(be, dx, x, (size_t)(n * T) * sizeof *x, err);
        if (st == REPRO_OK)
            st = repro_model_forward(m, be, repro_model_params(m), dx, n, 0, 0, 0, NULL, err);
        if (st == REPRO_OK)
            st = repro_be_download(be, out, repro_model_head_output(m, head), (size_t)(n * W) * sizeof *out, err);
        for (int64_t k = 0; st == REPRO_OK && k < n; k++) {
            int64_t w = g->len[k] < T ? g->len[k] : T;
            const float *z = out + k * W + (w - 1) * V; /* the logits after the last real token */
            g->ids[k][g->len[k]] = repro_generate_next(z, nv, pad_id, a->temperature, (int32_t)a->top_k, a->seed,
                                                       (uint64_t)g->len[k]);
            g->len[k]++;
        }
    }
    if (be)
        repro_be_free(be, dx);
    free(x);
    free(out);
    repro_model_free(m);
    repro_backend_destroy(be);
    return st;
}

static char *to_utf8(const int32_t *ids, int64_t n, const uint32_t *vocab)
{
    char *s = malloc((size_t)n * 4 + 1);
    size_t at = 0;
    for (int64_t i = 0; s && i < n; i++)
        at += (size_t)repro_utf8_encode(vocab[ids[i]], s + at);
    if (s)
        s[at] = '\0';
    return s;
}

int repro_cmd_sample(int argc, char **argv)
{
    args a;
    repro_config cfg;
    int head, rc = parse(argc, argv, &a);
    uint32_t *vocab = NULL;
    int32_t nv = 0, pad_id = -1;
    gen g = {0};
    if (!rc)
        rc = load_config(a.run_dir, &cfg, &head);
    if (!rc)
        rc = load_vocab(a.run_dir, &vocab, &nv, &pad_id);
    for (int k = 0; !rc && k < a.n_prompts; k++)
        rc = encode(&a, k, vocab, nv, &g.ids[k], &g.len[k], a.tokens);
    repro_error err;
    if (!rc && generate(&a, &cfg, head, nv, pad_id, &g, &err) != REPRO_OK) {
        fprintf(stderr, "repro sample: %s\n", err.message);
        rc = 1;
    }
    for (int k = 0; !rc && k < a.n_prompts; k++) {
        char *text = to_utf8(g.ids[k], g.len[k], vocab);
        if (a.json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "prompt", a.prompts[k]);
            cJSON_AddStringToObject(o, "text", text ? text : "");
            char *line = cJSON_PrintUnformatted(o);
            printf("%s\n", line ? line : "{}");
            free(line);
            cJSON_Delete(o);
        } else {
            printf("%s%s\n", k ? "---\n" : "", text ? text : "");
        }
        free(text);
    }
    for (int k = 0; k < a.n_prompts; k++) {
        free(g.ids[k]);
        if (a.own[k])
            free(a.prompts[k]);
    }
    free(vocab);
    return rc;
}
