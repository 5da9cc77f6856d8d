/* data.format text: character-level tokens from UTF-8 files.
 *
 * The tokenizer is the vocabulary: the sorted unique code points of the
 * training text, token id = index. Sorting makes it a pure function of the
 * set of characters (file order and repetitions do not matter), and the run
 * directory keeps it (vocab.json, its SHA-256 in run.json) so `repro sample`
 * decodes with the table the model was trained on.
 *
 * Samples are windows of the concatenated files (repro_text_read), or with
 * text_samples documents (repro_text_read_documents) the chunks of each
 * document padded with token 0 (docs/data.md "Text"). */
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

/* One file's code points: *cp malloc'd, *k of them; an empty file is an error. */
static repro_status decode_file(const char *path, uint32_t **cp, int64_t *k, repro_error *err)
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
    st = repro_utf8_decode(path, buf, len, cp, k, err);
    free(buf);
    return st;
}

/* Appends one file's code points to (*all, *n). */
static repro_status append_file(const char *path, uint32_t **all, int64_t *n, repro_error *err)
{
    uint32_t *cp;
    int64_t k;
    repro_status st = decode_file(path, &cp, &k, err);
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
    /* a fresh copy of the v distinct values rather than realloc: GCC's
     * -Wuse-after-free (-O0 builds) flags any use of `sorted` after a realloc */
    out->vocab = malloc((size_t)v * sizeof *sorted);
    if (out->vocab) {
        memcpy(out->vocab, sorted, (size_t)v * sizeof *sorted);
        free(sorted);
    } else
        out->vocab = sorted;
    out->n_vocab = (int32_t)v;
    for (int64_t i = 0; i < n; i++) {
        const uint32_t *hit = bsearch(&cp[i], out->vocab, (size_t)v, sizeof *hit, cmp_u32);
        out->tokens[i] = (int32_t)(hit - out->vocab);
    }
    return REPRO_OK;
}

/* The dataset's shape once its tokens are in: n samples of context tokens
 * predicting context targets, the first `limit` of them when limit > 0. */
static void set_samples(repro_dataset *out, int64_t n_tokens, int64_t n, int64_t context, int64_t limit)
{
    out->n_tokens = n_tokens;
    out->context = context;
    out->n = limit > 0 && limit < n ? limit : n;
    out->n_features = context;
    out->n_targets = context;
    out->n_classes = out->n_vocab;
}

/* The pattern's files in sorted order (LC_COLLATE "C": the library never sets a locale). */
static repro_status glob_files(const char *pattern, glob_t *g, repro_error *err)
{
    int rc = glob(pattern, GLOB_ERR, NULL, g);
    if (rc == GLOB_NOMATCH)
        return repro_fail(err, REPRO_ERR_IO, "cannot open '%s': no file matches", pattern);
    if (rc != 0)
        return repro_fail(err, REPRO_ERR_IO, "cannot read '%s': %s", pattern,
                          rc == GLOB_NOSPACE ? "out of memory" : "a directory could not be read");
    return REPRO_OK;
}

repro_status repro_text_read(const char *pattern, int64_t context, int64_t limit, repro_dataset *out,
                             repro_error *err)
{
    memset(out, 0, sizeof *out);
    if (context < 1)
        return repro_fail(err, REPRO_ERR_CONFIG, "data.context must be >= 1, not %lld", (long long)context);
    glob_t g;
    repro_status st = glob_files(pattern, &g, err);
    if (st)
        return st;
    uint32_t *cp = NULL;
    int64_t n = 0;
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
    set_samples(out, n, n - context, context, limit);
    return REPRO_OK;
}

/* ---- text_samples documents ----
 * Rows of context + 1 code points, one per sample, with U+0000 as the
 * padding: the decoder refuses NUL, so no text character is U+0000, and the
 * sorted vocabulary puts it first: the padding's token id is 0
 * (REPRO_TEXT_PAD_ID) whatever the corpus's alphabet. */
typedef struct doc_rows {
    uint32_t *cp;    /* [n * width], then one more U+0000 (tokenize sees the pad even with no padding) */
    int64_t n, cap, width;
} doc_rows;

/* Document [d, d + len) as chunks: chunk c is [c * context, c * context +
 * context + 1), cut at the document's end and padded; every character but
 * the first is a target exactly once. */
static repro_status add_document(doc_rows *r, const uint32_t *d, int64_t len, repro_error *err)
{
    int64_t ctx = r->width - 1;
    for (int64_t start = 0; start + 1 < len; start += ctx) {
        if (r->n == r->cap) {
            int64_t cap = r->cap ? r->cap * 2 : 256;
            uint32_t *g = realloc(r->cp, (size_t)(cap * r->width + 1) * sizeof *g);
            if (!g)
                return repro_fail(err, REPRO_ERR_NOMEM, "out of memory for %lld samples", (long long)cap);
            r->cp = g;
            r->cap = cap;
        }
        uint32_t *row = r->cp + r->n * r->width;
        int64_t k = len - start < r->width ? len - start : r->width;
        memcpy(row, d + start, (size_t)k * sizeof *row);
        memset(row + k, 0, (size_t)(r->width - k) * sizeof *row);
        r->n++;
    }
    return REPRO_OK;
}

/* Splits one file's code points at the lines equal to sep (a line: the text
 * between two '\n', or the file's start or end); the separator lines and
 * their newlines belong to no document. */
static repro_status split_file(doc_rows *r, const uint32_t *cp, int64_t n, const uint32_t *sep, int64_t ns,
                               repro_error *err)
{
    int64_t doc = 0;
    repro_status st = REPRO_OK;
    for (int64_t line = 0; st == REPRO_OK && line <= n;) {
        int64_t end = line;
        while (end < n && cp[end] != '\n')
            end++;
        if (end - line == ns && !memcmp(cp + line, sep, (size_t)ns * sizeof *sep) && !(ns == 0 && line == n)) {
            st = add_document(r, cp + doc, line - doc, err);
            doc = end + 1;
        }
        line = end + 1;
    }
    if (st == REPRO_OK && doc < n)
        st = add_document(r, cp + doc, n - doc, err);
    return st;
}

repro_status repro_text_read_documents(const char *pattern, const char *separator, int64_t context, int64_t limit,
                                       repro_dataset *out, repro_error *err)
{
    memset(out, 0, sizeof *out);
    if (context < 1)
        return repro_fail(err, REPRO_ERR_CONFIG, "data.context must be >= 1, not %lld", (long long)context);
    uint32_t *sep = NULL;
    int64_t ns = 0;
    repro_status st = repro_utf8_decode("data.separator", (const unsigned char *)separator, strlen(separator), &sep,
                                        &ns, err);
    if (st)
        return st;
    glob_t g;
    if ((st = glob_files(pattern, &g, err))) {
        free(sep);
        return st;
    }
    doc_rows r = {.width = context + 1};
    for (size_t i = 0; st == REPRO_OK && i < g.gl_pathc; i++) {
        uint32_t *cp;
        int64_t k;
        if ((st = decode_file(g.gl_pathv[i], &cp, &k, err)) == REPRO_OK) {
            st = split_file(&r, cp, k, sep, ns, err);
            free(cp);
        }
    }
    globfree(&g);
    free(sep);
    if (st == REPRO_OK && r.n == 0) {
        char at[REPRO_NAME_MAX + 32];
        snprintf(at, sizeof at, separator[0] ? "lines holding only '%s'" : "blank lines%s", separator);
        st = repro_fail(err, REPRO_ERR_FORMAT, "'%s': no document of 2 or more characters (documents are split at %s)",
                        pattern, at);
    }
    int64_t total = r.n * r.width;
    if (st == REPRO_OK) {
        r.cp[total] = 0; /* the pad is in the vocabulary even when no row needs it */
        st = tokenize(r.cp, total + 1, out, err);
    }
    free(r.cp);
    if (st) {
        repro_dataset_free(out);
        return st;
    }
    out->padded = true;
    set_samples(out, total, r.n, context, limit);
    return REPRO_OK;
}

char *repro_vocab_json(const uint32_t *vocab, int32_t n, int32_t pad_id)
{
    cJSON *root = cJSON_CreateObject(), *tokens = cJSON_CreateArray();
    if (!root || !tokens) {
        cJSON_Delete(root);
        cJSON_Delete(tokens);
        return NULL;
    }
    cJSON_AddStringToObject(root, "kind", "characters");
    cJSON_AddNumberToObject(root, "size", n);
    if (pad_id >= 0) /* only then: a windows run's file stays byte for byte as before */
        cJSON_AddNumberToObject(root, "pad_id", pad_id);
    cJSON_AddItemToObject(root, "tokens", tokens);
    for (int32_t i = 0; i < n; i++) {
        char s[5] = {0};
        s[repro_utf8_encode(vocab[i], s)] = '\0';
        cJSON_AddItemToArray(tokens, i == pad_id ? cJSON_CreateNull() : cJSON_CreateString(s));
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}

repro_status repro_vocab_parse(const char *name, const char *json, uint32_t **vocab, int32_t *n, int32_t *pad_id,
                               repro_error *err)
{
    *vocab = NULL;
    *n = 0;
    *pad_id = -1;
    cJSON *root = cJSON_Parse(json);
    const cJSON *tokens = cJSON_GetObjectItemCaseSensitive(root, "tokens");
    const cJSON *pad = cJSON_GetObjectItemCaseSensitive(root, "pad_id");
    int count = cJSON_IsArray(tokens) ? cJSON_GetArraySize(tokens) : 0;
    /* the pad, when there is one, is id 0 (the U+0000 that sorts first) and its entry null */
    int p = pad == NULL ? -1 : cJSON_IsNumber(pad) && pad->valuedouble == REPRO_TEXT_PAD_ID ? REPRO_TEXT_PAD_ID : -2;
    uint32_t *v = count > 0 && p != -2 ? malloc((size_t)count * sizeof *v) : NULL;
    int ok = v != NULL;
    for (int i = 0; ok && i < count; i++) {
        const cJSON *t = cJSON_GetArrayItem(tokens, i);
        if (i == p) {
            ok = cJSON_IsNull(t);
            v[i] = 0;
            continue;
        }
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
    ok = ok && count > (p >= 0); /* a pad alone is no vocabulary */
    cJSON_Delete(root);
    if (!ok) {
        free(v);
        return repro_fail(err, REPRO_ERR_FORMAT,
                          "'%s': not a vocabulary (expected {\"tokens\": [one character each, ascending]}, "
                          "and with \"pad_id\": 0 the first token null)", name);
    }
    *vocab = v;
    *n = count;
    *pad_id = p;
    return REPRO_OK;
}
