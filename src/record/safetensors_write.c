/* Writing safetensors files (https://huggingface.co/docs/safetensors):
 *
 *   u64 little-endian N | N bytes of JSON header, space-padded | raw data
 *
 * The header maps each tensor name to {"dtype":"F32","shape":[...],
 * "data_offsets":[begin,end]} (byte offsets into the data section) and
 * "__metadata__" to string pairs. We pad N to a multiple of 8, as the
 * reference implementation does, so the data starts 8-byte aligned; tensors
 * lie in the order given, back to back. Floats are written as little-endian
 * bytes whatever the host order. */
#include "repro/record.h"

#include <stdlib.h>
#include <string.h>

static int64_t tensor_numel(const repro_named_tensor *t)
{
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++)
        n *= t->shape[d];
    return n;
}

static repro_status check_tensor(const char *path, const repro_named_tensor *ts, int i,
                                 repro_error *err)
{
    const repro_named_tensor *t = &ts[i];
    if (!t->name || !t->name[0] || strcmp(t->name, "__metadata__") == 0)
        return repro_fail(err, REPRO_ERR_ARG, "writing '%s': tensor %d has an invalid name '%s'",
                          path, i, t->name ? t->name : "(null)");
    if (t->ndim < 0 || t->ndim > REPRO_SAFETENSORS_MAX_DIMS)
        return repro_fail(err, REPRO_ERR_ARG, "writing '%s': tensor '%s' has %d dimensions (0..%d)",
                          path, t->name, t->ndim, REPRO_SAFETENSORS_MAX_DIMS);
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] < 0 || t->shape[d] > ((int64_t)1 << 40))
            return repro_fail(err, REPRO_ERR_ARG, "writing '%s': tensor '%s' has dimension %d = %lld",
                              path, t->name, d, (long long)t->shape[d]);
    if (!t->data && tensor_numel(t) > 0)
        return repro_fail(err, REPRO_ERR_ARG, "writing '%s': tensor '%s' has no data", path, t->name);
    for (int j = 0; j < i; j++)
        if (strcmp(ts[j].name, t->name) == 0)
            return repro_fail(err, REPRO_ERR_ARG, "writing '%s': tensor name '%s' appears twice",
                              path, t->name);
    return REPRO_OK;
}

/* The JSON header text, unpadded; NULL when out of memory. */
static char *header_json(const repro_named_tensor *ts, int n, const char *const *keys,
                         const char *const *values, int n_meta)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    int ok = 1;
    if (n_meta > 0) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        for (int i = 0; ok && meta && i < n_meta; i++)
            ok = cJSON_AddStringToObject(meta, keys[i], values[i]) != NULL;
        ok = ok && meta;
    }
    int64_t offset = 0;
    for (int i = 0; ok && i < n; i++) {
        cJSON *t = cJSON_AddObjectToObject(root, ts[i].name);
        ok = t && cJSON_AddStringToObject(t, "dtype", "F32");
        cJSON *shape = ok ? cJSON_AddArrayToObject(t, "shape") : NULL;
        cJSON *offs = shape ? cJSON_AddArrayToObject(t, "data_offsets") : NULL;
        ok = offs != NULL;
        for (int d = 0; ok && d < ts[i].ndim; d++)
            ok = cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)ts[i].shape[d]));
        int64_t end = offset + 4 * tensor_numel(&ts[i]);
        ok = ok && cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)offset)) &&
             cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)end));
        offset = end;
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return text;
}

/* Streams count floats as little-endian bytes, a buffer at a time. */
static void write_floats_le(repro_atomic_file *w, const float *x, int64_t count)
{
    unsigned char buf[4096];
    while (count > 0) {
        int64_t m = count < 1024 ? count : 1024;
        for (int64_t i = 0; i < m; i++) {
            uint32_t u;
            memcpy(&u, &x[i], 4);
            buf[4 * i] = (unsigned char)u;
            buf[4 * i + 1] = (unsigned char)(u >> 8);
            buf[4 * i + 2] = (unsigned char)(u >> 16);
            buf[4 * i + 3] = (unsigned char)(u >> 24);
        }
        repro_atomic_write(w, buf, (size_t)(4 * m), NULL);
        x += m;
        count -= m;
    }
}

repro_status repro_safetensors_write(const char *path, const repro_named_tensor *tensors, int n,
                                     const char *const *meta_keys,
                                     const char *const *meta_values, int n_meta,
                                     repro_error *err)
{
    for (int i = 0; i < n; i++) {
        repro_status st = check_tensor(path, tensors, i, err);
        if (st != REPRO_OK)
            return st;
    }
    for (int i = 0; i < n_meta; i++)
        if (!meta_keys[i] || !meta_values[i])
            return repro_fail(err, REPRO_ERR_ARG, "writing '%s': metadata entry %d is NULL", path, i);
    char *json = header_json(tensors, n, meta_keys, meta_values, n_meta);
    if (!json)
        return repro_fail(err, REPRO_ERR_NOMEM, "out of memory writing '%s'", path);
    size_t len = strlen(json);
    size_t padded = (len + 7) / 8 * 8;
    unsigned char prefix[8];
    for (int b = 0; b < 8; b++)
        prefix[b] = (unsigned char)((uint64_t)padded >> (8 * b));

    repro_atomic_file *w;
    repro_status st = repro_atomic_open(path, &w, err);
    if (st == REPRO_OK) {
        repro_atomic_write(w, prefix, 8, NULL);
        repro_atomic_write(w, json, len, NULL);
        repro_atomic_write(w, "       ", padded - len, NULL);
        for (int i = 0; i < n; i++)
            write_floats_le(w, tensors[i].data, tensor_numel(&tensors[i]));
        st = repro_atomic_commit(w, err);
    }
    free(json);
    return st;
}
