/* The trace writer: see trace.h. */
#include "train/trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "repro/record.h"

struct repro_trace {
    char dir[1024];
    FILE *lines; /* trace.jsonl */
    FILE *data;  /* trace.bin */
    int64_t first, last;
    int64_t step;
    int micro;
    uint64_t offset; /* bytes written to trace.bin */
};

/* Like `mkdir -p`. */
static repro_status make_dirs(const char *dir, repro_error *err)
{
    char path[1024];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return repro_fail(err, REPRO_ERR_ARG, "trace directory '%s' is too long", dir);
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return repro_fail(err, REPRO_ERR_IO, "cannot create trace directory '%s': %s", path,
                              strerror(errno));
        *p = c;
        if (c == '\0')
            return REPRO_OK;
    }
}

static FILE *open_in(const char *dir, const char *name, repro_error *err)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        repro_fail(err, REPRO_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
    return f;
}

repro_status repro_trace_open(const char *dir, int64_t first, int64_t last, repro_trace **out,
                              repro_error *err)
{
    *out = NULL;
    if (first < 1 || last < first)
        return repro_fail(err, REPRO_ERR_ARG, "trace steps %lld..%lld: need 1 <= first <= last",
                          (long long)first, (long long)last);
    repro_status st = make_dirs(dir, err);
    if (st != REPRO_OK)
        return st;
    repro_trace *t = calloc(1, sizeof *t);
    if (!t)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the trace");
    snprintf(t->dir, sizeof t->dir, "%s", dir);
    t->first = first;
    t->last = last;
    t->micro = -1;
    t->lines = open_in(dir, "trace.jsonl", err);
    t->data = t->lines ? open_in(dir, "trace.bin", err) : NULL;
    if (!t->data) {
        repro_error ignored;
        repro_trace_close(t, &ignored);
        return err ? err->status : REPRO_ERR_IO;
    }
    *out = t;
    return REPRO_OK;
}

int repro_trace_wants(const repro_trace *t, int64_t step)
{
    return t && step >= t->first && step <= t->last;
}

void repro_trace_at(repro_trace *t, int64_t step, int micro)
{
    t->step = step;
    t->micro = micro;
}

repro_status repro_trace_tensor(repro_trace *t, const char *op, const char *name, int per_micro,
                                const float *data, int64_t rows, int64_t cols, repro_error *err)
{
    int64_t n = cols > 0 ? rows * cols : rows;
    char prefix[24] = "";
    if (per_micro && t->micro >= 0)
        snprintf(prefix, sizeof prefix, "mb%d.", t->micro);
    char hex[65];
    repro_sha256_hex(data, (size_t)n * sizeof(float), hex);
    char shape[64];
    if (cols > 0)
        snprintf(shape, sizeof shape, "[%lld,%lld]", (long long)rows, (long long)cols);
    else
        snprintf(shape, sizeof shape, "[%lld]", (long long)rows);
    int ok = fprintf(t->lines,
                     "{\"step\":%lld,\"op\":\"%s%s\",\"tensor\":\"%s%s\",\"shape\":%s,\"n\":%lld,"
                     "\"offset\":%llu,\"sha256\":\"%s\"}\n",
                     (long long)t->step, prefix, op, prefix, name, shape, (long long)n,
                     (unsigned long long)t->offset, hex) > 0;
    ok = ok && fwrite(data, sizeof(float), (size_t)n, t->data) == (size_t)n;
    if (!ok)
        return repro_fail(err, REPRO_ERR_IO, "cannot write the trace in '%s': %s", t->dir, strerror(errno));
    t->offset += (uint64_t)n * sizeof(float);
    return REPRO_OK;
}

repro_status repro_trace_close(repro_trace *t, repro_error *err)
{
    if (!t)
        return REPRO_OK;
    int bad = 0;
    if (t->lines)
        bad |= fclose(t->lines) != 0;
    if (t->data)
        bad |= fclose(t->data) != 0;
    repro_status st = REPRO_OK;
    if (bad)
        st = repro_fail(err, REPRO_ERR_IO, "cannot write the trace in '%s': %s", t->dir, strerror(errno));
    free(t);
    return st;
}
