/* data.format text: character-level tokens from UTF-8 files.
 *
 * The tokenizer is the vocabulary: the sorted unique code points of the
 * training text, token id = index. Sorting makes it a pure function of the
 * set of characters (file order and repetitions do not matter), and the run
 * directory keeps it (vocab.json, its SHA-256 in run.json) so `repro sample`
 * decodes with the table the model was trained on. */
#include "repro/data.h"

#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static repro_status bad_utf8(const char *name, size_t at, const char *why, repro_error *err)
{
    return repro_fail(err, REPRO_ERR_FORMAT, "'%s': invalid UTF-8 at byte %zu: %s", name, at, why);
}

/* RFC 3629: the shortest form only, no surrogates, nothing above U+10FFFF. */
repro_status repro_utf8_decode(const char *name, const unsigned char *s, size_t len, uint32_t **out, int64_t *n,
                               repro_error *err)
{
    *out = NULL;
    *n = 0;
    uint32_t *cp = malloc((len ? len : 1) * sizeof *cp);
    if (!cp)
        return repro_fail(err, REPRO_ERR_NOMEM, "'%s': out of memory for %zu characters", name, len);
    int64_t k = 0;
    for (size_t i = 0; i < len;) {
        unsigned c = s[i];
        int more;
        uint32_t v, min;
        if (c == 0) {
            free(cp);
            return bad_utf8(name, i, "a NUL byte (not text)", err);
        }
        if (c < 0x80) {
            cp[k++] = c;
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            more = 1, v = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            more = 2, v = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            more = 3, v = c & 0x07, min = 0x10000;
        } else {
            free(cp);
            return bad_utf8(name, i, (c & 0xc0) == 0x80 ? "a continuation byte starts a character"
                                                         : "byte 0xf8-0xff never occurs in UTF-8", err);
        }
        if (len - i <= (size_t)more) {
            free(cp);
            return bad_utf8(name, i, "the text ends inside a character", err);
        }
        for (int j = 1; j <= more; j++) {
            if ((s[i + j] & 0xc0) != 0x80) {
                free(cp);
                return bad_utf8(name, i, "a character is cut short (a continuation byte is missing)", err);
            }
            v = (v << 6) | (s[i + j] & 0x3f);
        }
        const char *why = v < min ? "an overlong encoding"
                          : v >= 0xd800 && v <= 0xdfff ? "a UTF-16 surrogate"
                          : v > 0x10ffff ? "a code point above U+10FFFF" : NULL;
        if (why) {
            free(cp);
            return bad_utf8(name, i, why, err);
        }
        cp[k++] = v;
        i += (size_t)more + 1;
    }
    *out = cp;
    *n = k;
    return REPRO_OK;
}

int repro_utf8_encode(uint32_t v, char *o)
{
    if (v < 0x80) {
        o[0] = (char)v;
        return 1;
    }
    if (v < 0x800) {
        o[0] = (char)(0xc0 | (v >> 6));
        o[1] = (char)(0x80 | (v & 0x3f));
        return 2;
    }
    if (v < 0x10000) {
        o[0] = (char)(0xe0 | (v >> 12));
        o[1] = (char)(0x80 | ((v >> 6) & 0x3f));
        o[2] = (char)(0x80 | (v & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (v >> 18));
    o[1] = (char)(0x80 | ((v >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((v >> 6) & 0x3f));
    o[3] = (char)(0x80 | (v & 0x3f));
    return 4;
}

static repro_status read_file(const char *path, unsigned char **buf, size_t *len, repro_error *err)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return repro_fail(err, REPRO_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    unsigned char *b = malloc(cap);
    while (b) {
        n += fread(b + n, 1, cap - n, f);
        if (n < cap)
            break;
        unsigned char *g = realloc(b, cap * 2);
        if (!g) {
            free(b);
            b = NULL;
            break;
        }
        b = g;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!b)
        return repro_fail(err, REPRO_ERR_NOMEM, "'%s': out of memory reading it", path);
    if (bad) {
        free(b);
        return repro_fail(err, REPRO_ERR_IO, "cannot read '%s'", path);
    }
    *buf = b;
    *len = n;
    return REPRO_OK;
}

/* Appends one file's code points to (*all, *n). */
static repro_status append_file(const char *path, uint32_t **all, int64_t *n, repro_error *err)
{
    unsigned char *buf;
    size_t len;
    repro_status st = read_file(path, &buf, &len, err);
    if (st)
        return st;
    if (len == 0) {
        free(buf);
        return repro_fail(err, REPRO_ERR_FORMAT, "'%s': the text file is empty", path);
    }
    uint32_t *cp;
    int64_t k;
    st = repro_utf8_decode(path, buf, len, &cp, &k, err);
    free(buf);
    if (st)
        return st;
    uint32_t *g = realloc(*all, (size_t)(*n + k) * sizeof *g);
    if (!g) {
        free(cp);
        return repro_fail(err, REPRO_ERR_NOMEM, "'%s': out of memory for %lld characters", path, (long long)k);
    }
    memcpy(g + *n, cp, (size_t)k * sizeof *g);
    free(cp);
    *all = g;
    *n += k;
    return REPRO_OK;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The vocabulary (sorted unique code points) and each character's id. */
static repro_status tokenize(const uint32_t *cp, int64_t n, repro_dataset *out, repro_error *err)
{
    uint32_t *sorted = malloc((size_t)n * sizeof *sorted);
    out->tokens = malloc((size_t)n * sizeof *out->tokens);
    if (!sorted || !out->tokens) {
        free(sorted);
        return repro_fail(err, REPRO_ERR_NOMEM, "out of memory for %lld tokens", (long long)n);
    }
    memcpy(sorted, cp, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_u32);
    int64_t v = 0;
    for (int64_t i = 0; i < n; i++)
        if (i == 0 || sorted[i] != sorted[v - 1])
            sorted[v++] = sorted[i];
    out->vocab = realloc(sorted, (size_t)v * sizeof *sorted);
    if (!out->vocab)
        out->vocab = sorted;
    out->n_vocab = (int32_t)v;
    for (int64_t i = 0; i < n; i++) {
        const uint32_t *hit = bsearch(&cp[i], out->vocab, (size_t)v, sizeof *hit, cmp_u32);
        out->tokens[i] = (int32_t)(hit - out->vocab);
    }
    return REPRO_OK;
}

repro_status repro_text_read(const char *pattern, int64_t context, int64_t limit, repro_dataset *out,
                             repro_error *err)
{
    memset(out, 0, sizeof *out);
    if (context < 1)
        return repro_fail(err, REPRO_ERR_CONFIG, "data.context must be >= 1, not %lld", (long long)context);
    glob_t g;
    int rc = glob(pattern, GLOB_ERR, NULL, &g); /* matches come sorted (LC_COLLATE "C": the library never sets a locale) */
    if (rc == GLOB_NOMATCH)
        return repro_fail(err, REPRO_ERR_IO, "cannot open '%s': no file matches", pattern);
    if (rc != 0)
        return repro_fail(err, REPRO_ERR_IO, "cannot read '%s': %s", pattern,
                          rc == GLOB_NOSPACE ? "out of memory" : "a directory could not be read");
    uint32_t *cp = NULL;
    int64_t n = 0;
    repro_status st = REPRO_OK;
    for (size_t i = 0; st == REPRO_OK && i < g.gl_pathc; i++)
        st = append_file(g.gl_pathv[i], &cp, &n, err);
    globfree(&g);
    if (st == REPRO_OK && n < context + 1)
        st = repro_fail(err, REPRO_ERR_FORMAT,
                        "'%s': %lld characters, fewer than data.context + 1 = %lld (one window and its next "
                        "character)", pattern, (long long)n, (long long)context + 1);
    if (st == REPRO_OK)
        st = tokenize(cp, n, out, err);
    free(cp);
    if (st) {
        repro_dataset_free(out);
        return st;
    }
    out->n_tokens = n;
    out->context = context;
    out->n = n - context;
    if (limit > 0 && limit < out->n)
        out->n = limit;
    out->n_features = context;
    out->n_targets = context;
    out->n_classes = out->n_vocab;
    return REPRO_OK;
}

char *repro_vocab_json(const uint32_t *vocab, int32_t n)
{
    cJSON *root = cJSON_CreateObject(), *tokens = cJSON_CreateArray();
    if (!root || !tokens) {
        cJSON_Delete(root);
        cJSON_Delete(tokens);
        return NULL;
    }
    cJSON_AddStringToObject(root, "kind", "characters");
    cJSON_AddNumberToObject(root, "size", n);
    cJSON_AddItemToObject(root, "tokens", tokens);
    for (int32_t i = 0; i < n; i++) {
        char s[5] = {0};
        s[repro_utf8_encode(vocab[i], s)] = '\0';
        cJSON_AddItemToArray(tokens, cJSON_CreateString(s));
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}

repro_status repro_vocab_parse(const char *name, const char *json, uint32_t **vocab, int32_t *n, repro_error *err)
{
    *vocab = NULL;
    *n = 0;
    cJSON *root = cJSON_Parse(json);
    const cJSON *tokens = cJSON_GetObjectItemCaseSensitive(root, "tokens");
    int count = cJSON_IsArray(tokens) ? cJSON_GetArraySize(tokens) : 0;
    uint32_t *v = count > 0 ? malloc((size_t)count * sizeof *v) : NULL;
    int ok = v != NULL;
    for (int i = 0; ok && i < count; i++) {
        const cJSON *t = cJSON_GetArrayItem(tokens, i);
        const char *s = cJSON_GetStringValue(t);
        uint32_t *cp = NULL;
        int64_t k = 0;
        repro_error ignored;
        ok = s && repro_utf8_decode(name, (const unsigned char *)s, strlen(s), &cp, &k, &ignored) == REPRO_OK &&
             k == 1 && (i == 0 || cp[0] > v[i - 1]);
        if (ok)
            v[i] = cp[0];
        free(cp);
    }
    cJSON_Delete(root);
    if (!ok) {
        free(v);
        return repro_fail(err, REPRO_ERR_FORMAT,
                          "'%s': not a vocabulary (expected {\"tokens\": [one character each, ascending]})", name);
    }
    *vocab = v;
    *n = count;
    return REPRO_OK;
}
