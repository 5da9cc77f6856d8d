/* Reading safetensors files back (for resume and tests). The whole file is
 * loaded and checked before anything is returned: the header must be a JSON
 * object whose tensors are F32 with at most REPRO_SAFETENSORS_MAX_DIMS
 * dimensions, whose data_offsets match their shapes, lie inside the file
 * and tile the data section from 0 to its end without gaps or overlaps,
 * and whose "__metadata__" holds only strings. Every error names the file. */
#include "repro/record.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record/io.h"

/* The reference implementation's limit; it keeps a corrupt length from
 * asking for a huge allocation before we know the file is that long. */
enum { HEADER_MAX = 100 * 1000 * 1000 };

typedef struct st_tensor {
    char *name;
    int ndim;
    int64_t shape[REPRO_SAFETENSORS_MAX_DIMS];
    int64_t numel;
    int64_t begin, end; /* byte offsets into the data section */
    float *data;        /* into the shared values buffer */
} st_tensor;

struct repro_safetensors {
    int count;
    st_tensor *tensors;
    int n_meta;
    char **meta_keys, **meta_values;
    float *values; /* every tensor's elements, in file order */
};

void repro_safetensors_free(repro_safetensors *st)
{
    if (!st)
        return;
    for (int i = 0; i < st->count; i++)
        free(st->tensors[i].name);
    for (int i = 0; i < st->n_meta; i++) {
        free(st->meta_keys[i]);
        free(st->meta_values[i]);
    }
    free(st->tensors);
    free(st->meta_keys);
    free(st->meta_values);
    free(st->values);
    free(st);
}

static repro_status load_file(const char *path, unsigned char **buf, size_t *size,
                              repro_error *err)
{
    *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return repro_fail(err, REPRO_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        len = ftell(f);
    if (len < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return repro_fail(err, REPRO_ERR_IO, "cannot determine the size of '%s'", path);
    }
    unsigned char *b = repro_io_malloc(len > 0 ? (size_t)len : 1);
    if (!b) {
        fclose(f);
        return repro_fail(err, REPRO_ERR_NOMEM, "out of memory reading '%s' (%ld bytes)", path, len);
    }
    size_t got = fread(b, 1, (size_t)len, f);
    fclose(f);
    if (got != (size_t)len) {
        free(b);
        return repro_fail(err, REPRO_ERR_IO, "error reading '%s'", path);
    }
    *buf = b;
    *size = (size_t)len;
    return REPRO_OK;
}

/* A JSON number that is a whole value in [0, 2^53]. */
static int json_offset(const cJSON *v, int64_t *out)
{
    if (!cJSON_IsNumber(v))
        return 0;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(int64_t)d)
        return 0;
    *out = (int64_t)d;
    return 1;
}

static repro_status parse_tensor(const char *path, const cJSON *item, int64_t data_size,
                                 st_tensor *t, repro_error *err)
{
    const char *name = item->string;
    if (!cJSON_IsObject(item))
        return repro_fail(err, REPRO_ERR_FORMAT, "'%s': tensor '%s' is not a JSON object", path, name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(dtype) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs))
        return repro_fail(err, REPRO_ERR_FORMAT,
                          "'%s': tensor '%s' needs \"dtype\", \"shape\" and \"data_offsets\"", path, name);
    if (strcmp(dtype->valuestring, "F32") != 0)
        return repro_fail(err, REPRO_ERR_FORMAT, "'%s': tensor '%s' has dtype %s; only F32 is supported",
                          path, name, dtype->valuestring);
    t->ndim = cJSON_GetArraySize(shape);
    if (t->ndim > REPRO_SAFETENSORS_MAX_DIMS)
        return repro_fail(err, REPRO_ERR_FORMAT, "'%s': tensor '%s' has %d dimensions (at most %d)",
                          path, name, t->ndim, REPRO_SAFETENSORS_MAX_DIMS);
    t->numel = 1;
    int d = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, shape) {
        if (!json_offset(v, &t->shape[d]) || t->shape[d] > ((int64_t)1 << 40))
            return repro_fail(err, REPRO_ERR_FORMAT, "'%s': tensor '%s' has an invalid shape entry %d",
                              path, name, d);
        /* Past the file's size the exact count no longer matters (the size
         * check below fails); capping it keeps the product from overflowing. */
        if (t->shape[d] != 0 && t->numel > data_size / t->shape[d])
            t->numel = data_size + 1;
        else
            t->numel *= t->shape[d];
        d++;
    }
    if (cJSON_GetArraySize(offs) != 2 || !json_offset(cJSON_GetArrayItem(offs, 0), &t->begin) ||
        !json_offset(cJSON_GetArrayItem(offs, 1), &t->end) || t->begin > t->end)
        return repro_fail(err, REPRO_ERR_FORMAT,
                          "'%s': tensor '%s' has invalid data_offsets (want [begin, end], begin <= end)",
                          path, name);
    if (t->end > data_size)
        return repro_fail(err, REPRO_ERR_FORMAT,
                          "'%s': tensor '%s' data_offsets [%lld, %lld] lie beyond the data (%lld bytes)",
                          path, name, (long long)t->begin, (long long)t->end, (long long)data_size);
    if (t->end - t->begin != 4 * t->numel)
        return repro_fail(err, REPRO_ERR_FORMAT,
                          "'%s': tensor '%s' has %lld bytes of data but its shape needs %lld",
                          path, name, (long long)(t->end - t->begin), (long long)(4 * t->numel));
    t->name = strdup(name);
    return t->name ? REPRO_OK : repro_fail(err, REPRO_ERR_NOMEM, "out of memory reading '%s'", path);
}

static repro_status parse_metadata(const char *path, const cJSON *meta, repro_safetensors *st,
                                   repro_error *err)
{
    if (!cJSON_IsObject(meta))
        return repro_fail(err, REPRO_ERR_FORMAT, "'%s': \"__metadata__\" is not a JSON object", path);
    if (st->meta_keys) /* JSON lets a key repeat; a second one would replace (and leak) the first */
        return repro_fail(err, REPRO_ERR_FORMAT, "'%s': \"__metadata__\" appears twice", path);
    int n = cJSON_GetArraySize(meta);
    st->meta_keys = calloc((size_t)n + 1, sizeof *st->meta_keys);
    st->meta_values = calloc((size_t)n + 1, sizeof *st->meta_values);
    if (!st->meta_keys || !st->meta_values)
        return repro_fail(err, REPRO_ERR_NOMEM, "out of memory reading '%s'", path);
    const cJSON *v;
    cJSON_ArrayForEach(v, meta) {
        if (!cJSON_IsString(v))
            return repro_fail(err, REPRO_ERR_FORMAT, "'%s': metadata '%s' is not a string", path, v->string);
        int i = st->n_meta++;
        st->meta_keys[i] = strdup(v->string);
        st->meta_values[i] = strdup(v->valuestring);
        if (!st->meta_keys[i] || !st->meta_values[i])
            return repro_fail(err, REPRO_ERR_NOMEM, "out of memory reading '%s'", path);
    }
    return REPRO_OK;
}

static int by_offsets(const void *a, const void *b)
{
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    /* By end too, so an empty tensor sorts before a full one at its offset. */
    if (x->begin != y->begin)
        return (x->begin > y->begin) - (x->begin < y->begin);
    return (x->end > y->end) - (x->end < y->end);
}

/* The tensors must tile [0, data_size) exactly: sorted by offset, each
 * starts where the previous ended. */
static repro_status check_tiling(const char *path, repro_safetensors *st, int64_t data_size,
                                 repro_error *err)
{
    st_tensor **order = malloc(((size_t)st->count + 1) * sizeof *order);
    if (!order)
        return repro_fail(err, REPRO_ERR_NOMEM, "out of memory reading '%s'", path);
    for (int i = 0; i < st->count; i++)
        order[i] = &st->tensors[i];
    qsort(order, (size_t)st->count, sizeof *order, by_offsets);
    int64_t at = 0;
    repro_status status = REPRO_OK;
    for (int i = 0; i < st->count && status == REPRO_OK; i++) {
        if (order[i]->begin != at)
            status = repro_fail(err, REPRO_ERR_FORMAT,
                                "'%s': tensor '%s' starts at byte %lld of the data, expected %lld "
                                "(tensors must be contiguous, without gaps or overlaps)",
                                path, order[i]->name, (long long)order[i]->begin, (long long)at);
        at = order[i]->end;
    }
    if (status == REPRO_OK && at != data_size)
        status = repro_fail(err, REPRO_ERR_FORMAT,
                            "'%s': tensors cover %lld bytes of data but the file holds %lld",
                            path, (long long)at, (long long)data_size);
    free(order);
    return status;
}

static repro_status parse_header(const char *path, const cJSON *root, int64_t data_size,
                                 repro_safetensors *st, repro_error *err)
{
    if (!cJSON_IsObject(root))
        return repro_fail(err, REPRO_ERR_FORMAT, "'%s': the header is not a JSON object", path);
    st->tensors = repro_io_calloc((size_t)cJSON_GetArraySize(root) + 1, sizeof *st->tensors);
    if (!st->tensors)
        return repro_fail(err, REPRO_ERR_NOMEM, "out of memory reading '%s'", path);
    const cJSON *item;
    cJSON_ArrayForEach(item, root) {
        repro_status s;
        if (strcmp(item->string, "__metadata__") == 0)
            s = parse_metadata(path, item, st, err);
        else if (repro_safetensors_find(st, item->string) >= 0)
            s = repro_fail(err, REPRO_ERR_FORMAT, "'%s': tensor '%s' appears twice", path, item->string);
        else
            s = parse_tensor(path, item, data_size, &st->tensors[st->count], err);
        if (s != REPRO_OK)
            return s;
        if (strcmp(item->string, "__metadata__") != 0)
            st->count++;
    }
    return check_tiling(path, st, data_size, err);
}

static void decode_floats_le(const unsigned char *src, float *dst, int64_t count)
{
    for (int64_t i = 0; i < count; i++) {
        const unsigned char *b = src + 4 * i;
        uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        memcpy(&dst[i], &u, 4);
    }
}

static repro_status parse_file(const char *path, const unsigned char *buf, size_t size,
                               repro_safetensors *st, repro_error *err)
{
    if (size < 8)
        return repro_fail(err, REPRO_ERR_FORMAT,
                          "'%s' is truncated: %zu bytes, too short for the 8-byte header length", path, size);
    uint64_t n = 0;
    for (int b = 7; b >= 0; b--)
        n = n << 8 | buf[b];
    if (n > size - 8)
        return repro_fail(err, REPRO_ERR_FORMAT,
                          "'%s': header length %llu runs beyond the end of the file (%zu bytes)", path,
                          (unsigned long long)n, size);
    if (n > HEADER_MAX)
        return repro_fail(err, REPRO_ERR_FORMAT, "'%s': header length %llu exceeds the limit of %d",
                          path, (unsigned long long)n, HEADER_MAX);
    const char *header = (const char *)buf + 8, *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(header, (size_t)n, &end, 0);
    if (!root)
        return repro_fail(err, REPRO_ERR_FORMAT, "'%s': the header is not valid JSON (error at byte %ld)",
                          path, end ? (long)(end - (const char *)buf) : -1L);
    while (end < header + n && *end == ' ')
        end++;
    if (end != header + n) {
        cJSON_Delete(root);
        return repro_fail(err, REPRO_ERR_FORMAT,
                          "'%s': the header has bytes other than spaces after its JSON (at byte %ld)",
                          path, (long)(end - (const char *)buf));
    }
    int64_t data_size = (int64_t)(size - 8 - n);
    repro_status s = parse_header(path, root, data_size, st, err);
    cJSON_Delete(root);
    if (s != REPRO_OK)
        return s;
    st->values = repro_io_malloc((size_t)data_size + 4);
    if (!st->values)
        return repro_fail(err, REPRO_ERR_NOMEM, "out of memory reading '%s'", path);
    const unsigned char *data = buf + 8 + n;
    for (int i = 0; i < st->count; i++) {
        st_tensor *t = &st->tensors[i];
        t->data = st->values + t->begin / 4;
        decode_floats_le(data + t->begin, t->data, t->numel);
    }
    return REPRO_OK;
}

repro_status repro_safetensors_read(const char *path, repro_safetensors **out, repro_error *err)
{
    *out = NULL;
    unsigned char *buf;
    size_t size = 0;
    repro_status s = load_file(path, &buf, &size, err);
    if (s != REPRO_OK)
        return s;
    repro_safetensors *st = repro_io_calloc(1, sizeof *st);
    s = st ? parse_file(path, buf, size, st, err)
           : repro_fail(err, REPRO_ERR_NOMEM, "out of memory reading '%s'", path);
    free(buf);
    if (s != REPRO_OK) {
        repro_safetensors_free(st);
        return s;
    }
    *out = st;
    return REPRO_OK;
}

int repro_safetensors_count(const repro_safetensors *st) { return st->count; }
const char *repro_safetensors_name(const repro_safetensors *st, int i) { return st->tensors[i].name; }
int repro_safetensors_ndim(const repro_safetensors *st, int i) { return st->tensors[i].ndim; }
const int64_t *repro_safetensors_shape(const repro_safetensors *st, int i) { return st->tensors[i].shape; }
int64_t repro_safetensors_numel(const repro_safetensors *st, int i) { return st->tensors[i].numel; }
const float *repro_safetensors_data(const repro_safetensors *st, int i) { return st->tensors[i].data; }

int repro_safetensors_find(const repro_safetensors *st, const char *name)
{
    for (int i = 0; i < st->count; i++)
        if (strcmp(st->tensors[i].name, name) == 0)
            return i;
    return -1;
}

const char *repro_safetensors_meta(const repro_safetensors *st, const char *key)
{
    for (int i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta_keys[i], key) == 0)
            return st->meta_values[i];
    return NULL;
}

int repro_safetensors_meta_count(const repro_safetensors *st) { return st->n_meta; }
const char *repro_safetensors_meta_key(const repro_safetensors *st, int i) { return st->meta_keys[i]; }
const char *repro_safetensors_meta_value(const repro_safetensors *st, int i) { return st->meta_values[i]; }
