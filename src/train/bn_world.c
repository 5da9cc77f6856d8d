/* Batch norm's running statistics over the world's processes: see
 * bn_world.h. */
#include "train/bn_world.h"

#include <stdlib.h>
#include <string.h>

#include "ops/ops_math.h"
#include "train/shard_sum.h"

struct repro_bn_world {
    repro_model *model;
    const repro_backend *be;
    float *host_buffers;    /* GPU: the model's buffers, replayed on the host; NULL on the CPU */
    int shards, size, rank, n_layers;
    int64_t micro, max_floats;
    repro_bn_layer *layers; /* [n_layers] */
    float **rows;           /* [n_layers]: this rank's log in be's memory, room for a full step */
    int64_t *used, *cap;    /* [n_layers] groups logged, and room for them */
    int64_t count;          /* the step's samples */
    int64_t *floats;        /* [size] each rank's block in this step */
    float *block;           /* [max_floats] this rank's packed block */
    float *all;             /* [size][max_floats] every rank's, from the exchange */
};

/* Groups of `group` samples in a shard of n samples cut into micro-batches
 * of `micro` (the last shorter), each cut into groups (the last shorter):
 * what the trainer and nn/node_norm.c do. */
static int64_t shard_groups(int64_t n, int64_t micro, int64_t group)
{
    int64_t g = 0;
    for (int64_t done = 0; done < n; done += micro) {
        int64_t b = n - done < micro ? n - done : micro;
        g += (b + group - 1) / group;
    }
    return g;
}

/* Groups of layer l that rank r meets in a step of count samples. */
static int64_t rank_groups(const repro_bn_world *b, int r, int l, int64_t count)
{
    int f, n;
    repro_shard_owned(b->shards, b->size, r, &f, &n);
    int64_t g = 0;
    for (int s = f; s < f + n; s++) {
        int64_t lo, hi;
        repro_shard_range(b->shards, s, count, &lo, &hi);
        g += shard_groups(hi - lo, b->micro, b->layers[l].group);
    }
    return g;
}

static int64_t rank_floats(const repro_bn_world *b, int r, int64_t count)
{
    int64_t f = 0;
    for (int l = 0; l < b->n_layers; l++)
        f += 2 * b->layers[l].channels * rank_groups(b, r, l, count);
    return f;
}

repro_status repro_bn_world_create(repro_model *m, const repro_backend *be, int shards, int size, int rank, int64_t batch_size,
                                   int64_t micro, repro_bn_world **out, repro_error *err)
{
    *out = NULL;
    int nl = repro_model_n_batch_norms(m);
    if (nl == 0)
        return REPRO_OK;
    repro_bn_world *b = calloc(1, sizeof *b);
    if (!b)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the batch-norm exchange");
    *b = (repro_bn_world){.model = m, .be = be, .shards = shards, .size = size, .rank = rank, .n_layers = nl, .micro = micro};
    b->layers = calloc((size_t)nl, sizeof *b->layers);
    b->rows = calloc((size_t)nl, sizeof *b->rows);
    b->used = calloc((size_t)nl, sizeof *b->used);
    b->cap = calloc((size_t)nl, sizeof *b->cap);
    b->floats = calloc((size_t)size, sizeof *b->floats);
    int ok = b->layers && b->rows && b->used && b->cap && b->floats;
    for (int l = 0; ok && l < nl; l++)
        b->layers[l] = repro_model_batch_norm(m, l);
    /* a rank's groups never decrease with the step's size: a full step is the most */
    for (int r = 0; ok && r < size; r++) {
        int64_t f = rank_floats(b, r, batch_size);
        b->max_floats = f > b->max_floats ? f : b->max_floats;
    }
    repro_status st = ok ? REPRO_OK : REPRO_ERR_NOMEM;
    for (int l = 0; st == REPRO_OK && l < nl; l++) {
        b->cap[l] = rank_groups(b, rank, l, batch_size);
        st = repro_be_alloc(be, (size_t)(2 * b->layers[l].channels * b->cap[l] + 1) * sizeof(float),
                            (void **)&b->rows[l], err);
    }
    if (st == REPRO_OK)
        ok = (b->block = malloc((size_t)(b->max_floats + 1) * sizeof(float))) != NULL &&
             (b->all = malloc((size_t)(size * b->max_floats + 1) * sizeof(float))) != NULL &&
             (repro_backend_device(be) == REPRO_DEVICE_CPU ||
              (b->host_buffers = malloc((size_t)repro_model_n_buffers(m) * sizeof(float))) != NULL);
    if (st != REPRO_OK || !ok) {
        repro_bn_world_free(b);
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the batch-norm statistics' log");
    }
    *out = b;
    return REPRO_OK;
}

void repro_bn_world_free(repro_bn_world *b)
{
    if (!b)
        return;
    for (int l = 0; b->rows && l < b->n_layers; l++)
        repro_be_free(b->be, b->rows[l]);
    free(b->host_buffers);
    free(b->rows);
    free(b->used);
    free(b->cap);
    free(b->floats);
    free(b->layers);
    free(b->block);
    free(b->all);
    free(b);
}

int64_t repro_bn_world_max_floats(const repro_bn_world *b)
{
    return b ? b->max_floats : 0;
}

void repro_bn_world_begin(repro_bn_world *b)
{
    memset(b->used, 0, (size_t)b->n_layers * sizeof *b->used);
    repro_model_set_bn_log(b->model, b->rows, b->used, b->cap);
}

repro_status repro_bn_world_end(repro_bn_world *b, int64_t count, repro_shard_extra *extra, repro_error *err)
{
    repro_model_set_bn_log(b->model, NULL, NULL, NULL);
    b->count = count;
    for (int r = 0; r < b->size; r++)
        b->floats[r] = rank_floats(b, r, count);
    *extra = (repro_shard_extra){.mine = b->block, .floats = b->floats, .all = b->all};
    float *at = b->block;
    for (int l = 0; l < b->n_layers; l++) {
        int64_t want = rank_groups(b, b->rank, l, count), n = 2 * b->layers[l].channels * want;
        if (b->used[l] != want)
            return repro_fail(err, REPRO_ERR_INTERNAL, "batch-norm layer %d logged %lld groups in a step of %lld "
                              "samples, not the %lld its shards hold", l, (long long)b->used[l], (long long)count,
                              (long long)want);
        repro_status st = repro_be_download(b->be, at, b->rows[l], (size_t)n * sizeof(float), err);
        if (st != REPRO_OK)
            return st;
        at += n;
    }
    return REPRO_OK;
}

repro_status repro_bn_world_replay(repro_bn_world *b, repro_error *err)
{
    const float *all = b->all;
    float *model_buffers = repro_model_buffers(b->model);
    size_t buffer_bytes = (size_t)repro_model_n_buffers(b->model) * sizeof(float);
    float *buffers = b->host_buffers ? b->host_buffers : model_buffers;
    repro_status st = b->host_buffers ? repro_be_download(b->be, buffers, model_buffers, buffer_bytes, err) : REPRO_OK;
    if (st != REPRO_OK)
        return st;
    for (int r = 0; r < b->size; r++)
        for (int l = 0; l < b->n_layers; l++) {
            const repro_bn_layer *L = &b->layers[l];
            float *mean = buffers + L->mean_offset, *var = buffers + L->var_offset;
            int64_t C = L->channels, groups = rank_groups(b, r, l, b->count);
            for (int64_t g = 0; g < groups; g++, all += 2 * C)
                for (int64_t c = 0; c < C; c++) { /* the kernel's update (src/ops/cpu/norm.h), in its order */
                    mean[c] = repro_batchnorm_running(mean[c], all[c], L->momentum);
                    var[c] = repro_batchnorm_running(var[c], all[C + c], L->momentum);
                }
        }
    return b->host_buffers ? repro_be_upload(b->be, model_buffers, buffers, buffer_bytes, err) : REPRO_OK;
}
