/* The training loop: see include/repro/train.h.
 *
 * One optimiser step over a batch of batch_size samples (the last batch of
 * an epoch may be smaller):
 *   1. zero the gradients (+0);
 *   2. for each of accum_steps micro-batches, in order, as the data loader
 *      delivers them (epoch position p -> data row train_rows[order[p]],
 *      order from the sampler, augmented at (seed, epoch, p)), forward with
 *      dropout at (seed, layer, step, p, element), per-sample losses into
 *      the step's loss arrays, backward (weight gradients continue their
 *      in-order sums, so the split never shows);
 *   3. the step's loss = sum over heads of weight * canonical mean;
 *   4. clip (optional), learning rate from the schedule, optimiser update,
 *      EMA update (optional);
 *   5. a ledger line: the loss bits, and every hash_every steps the
 *      SHA-256 of the parameters and of the optimiser state.
 * A traced step (opts->trace_dir) also records every tensor it computes
 * (train/trace.h); the test-only perturbation acts between 2 and 4.
 *
 * Batches come from the host loader, or (loader.on_device) are gathered
 * from a copy of the data set in backend memory: the same rows, the same
 * bits. The step's loss stays in backend memory until the host needs it:
 * on a GPU up to LOSS_RING steps are queued and settled together (ledger
 * lines, the non-finite check, progress), always before an evaluation, a
 * checkpoint, a stop or the end, so nothing the host records differs from
 * settling every step. A hash step snapshots the parameters and optimiser
 * state, and a helper thread hashes the snapshot (train/state_hasher.h):
 * the GPU does not wait on the host's SHA-256. */
#include "repro/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "nn/model.h"
#include "repro/isa.h"
#include "optim/optim.h"
#include "data/augment_isa.h"
#include "repro/augment.h"
#include "repro/data.h"
#include "repro/loader.h"
#include "repro/record.h"
#include "repro/sampler.h"
#include "data/batch.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/memory_plan.h"
#include "train/heads.h"
#include "train/staged_batch.h"
#include "train/determinism.h"
#include "train/given_data.h"
#include "train/init_from.h"
#include "train/run_record.h"
#include "train/resident_data.h"
#include "train/resume_check.h"
#include "train/resume_policy.h"
#include "train/state_hasher.h"
#include "train/test_hooks.h"
#include "train/trace.h"
#include "train/world_peers.h"
#include "train/shard_sum.h"
#include "train/bn_world.h"
#include "train/world.h"
#include "data/loader_pool.h"
#include "data/loader_test.h"

/* Steps whose losses a GPU may hold before the host settles them. */
enum { LOSS_RING = 64 };

/* A step run but not yet written down: what its ledger line and progress
 * report need besides the loss. */
typedef struct pending_step {
    int64_t step;  /* 0-based */
    int epoch;
    float lr;
    int64_t count; /* its samples */
    int hash;      /* its ledger line carries the hashes of the parameters and optimiser state */
    char params_hex[65], optim_hex[65]; /* those hashes, from the state hasher */
} pending_step;

typedef struct trainer {
    const repro_config *cfg;
    const repro_train_options *opts;
    repro_test_hooks hooks; /* all off unless repro_train_hooked was given some */
    repro_backend *be;       /* where the arithmetic runs (CPU or CUDA) */
    repro_isa isa;           /* the CPU path (also for augmentation) */
    float *host;             /* [n_params] host scratch: hashes, traces, checkpoints */
    float *host_m, *host_v, *host_ema, *host_best, *host_buffers; /* GPU only: checkpoint mirrors */
    repro_staged_batch staged;
    repro_dataset train, test;
    uint32_t *train_rows, *val_rows; /* the seeded split of the training file */
    int64_t n_train, n_val;
    repro_model *model;
    repro_optim *optim;
    float *ema;     /* EMA of the parameters, or NULL */
    float *best;    /* early stopping: the best epoch's evaluation weights, or NULL */
    repro_state_hasher *hasher; /* the ledger's hashes, off the training thread */
    repro_run *run;
    repro_loader *loader;            /* delivers the training micro-batches (NULL when on_device) */
    int on_device;                   /* batches gathered from resident instead */
    int graphs;                      /* steps recorded and run as CUDA Graphs (on_device on a GPU) */
    int64_t steps_run;               /* steps this process has run (the first runs kernel by kernel) */
    repro_resident_data resident, resident_test; /* the data sets in backend memory (on_device) */
    repro_batch rbatch;              /* on_device: the micro-batch, backend memory */
    repro_batch eval_batch;
    float *step_loss[REPRO_MAX_HEADS]; /* [batch_size] per-sample losses of the step */
    float *d_out[REPRO_MAX_HEADS];     /* [micro][head width] */
    float *loss_ring;                  /* backend [LOSS_RING][heads]: each queued step's per-head loss sums */
    float *loss_host;                  /* host copy of loss_ring */
    pending_step pending[LOSS_RING];   /* the queued steps, oldest first */
    int n_pending, ring_len;           /* ring_len: steps queued before settling (1 on the CPU) */
    int32_t *train_labels;             /* [n_train] class of each training row (samplers), or NULL */
    uint32_t *order;                   /* [epoch_len] the sampler's order: indices into train_rows */
    uint32_t *epoch_rows;              /* [epoch_len] data row at each epoch position */
    int64_t epoch_len, steps_per_epoch, total_steps;
    int64_t samples_seen;
    char config_sha256[65];
    double t_start;
    double ckpt_sec;         /* when the last checkpoint was written (or training started) */
    repro_trace *trace;      /* NULL unless opts->trace_dir */
    int traced_params;       /* the parameters at the first traced step are recorded */
    int perturb_tensor;      /* the test perturbation's tensor index, -1 if none */
    /* data parallel (train/world.h, train/shard_sum.h, docs/parallel.md) */
    repro_world *world;      /* this run's processes (a world of one without mpirun) */
    int writer;              /* rank 0: the one that writes the run directory */
    repro_shard_sum *shard;  /* world.shards > 0: the step's gradient as a tree over shards, else NULL */
    repro_peers *peers;      /* GPUs of more than one process: NCCL between them, or NULL (host memory) */
    char exchange_how[512];  /* run.json world.gradient_exchange */
    repro_bn_world *bn;      /* more than one process and batch norm: its running statistics replayed, else NULL */
    float *shard_loss[REPRO_MAX_HEADS]; /* GPU + shards: host copies of the step's per-sample losses */
    int world_stop;          /* the last step's stop flag, agreed by every rank */
    double exchange_sec;     /* time in the shard sum's adds and exchange (run.json "world") */
    cJSON *world_json;       /* rank 0: run.json "world" (size, hosts, engine, every rank's device) */
} trainer;

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The message callback of determinism.c's warnings, for notes too. */
static void warn_user(const trainer *t, const char *msg)
{
    if (t->opts->warn)
        t->opts->warn(t->opts->warn_ctx, msg);
    else
        fprintf(stderr, "repro: warning: %s\n", msg);
}

/* ---- setup ---- */

static repro_status load_data(trainer *t, repro_error *err)
{
    const repro_config *cfg = t->cfg;
    repro_status st = cfg->data.format == REPRO_DATA_MEMORY || t->opts->train_data
                          ? repro_given_data_copy(cfg, t->opts, &t->train, &t->test, err)
                          : repro_data_load(&cfg->data, &t->train, &t->test, err);
    if (st != REPRO_OK)
        return st;
    if (t->train.n < 1)
        return repro_fail(err, REPRO_ERR_CONFIG, "the training set is empty");
    if (t->train.n > UINT32_MAX)
        return repro_fail(err, REPRO_ERR_CONFIG, "the training set has more than 2^32 samples");
    st = repro_data_split(cfg->seed, t->train.n, cfg->data.val_fraction, &t->train_rows, &t->n_train,
                          &t->val_rows, &t->n_val, err);
    if (st != REPRO_OK)
        return st;
    if (t->n_train < 1)
        return repro_fail(err, REPRO_ERR_CONFIG, "data.val_fraction %g leaves no training samples",
                          (double)cfg->data.val_fraction);
    if (cfg->model.input != 0 && cfg->model.input != t->train.n_features)
        return repro_fail(err, REPRO_ERR_CONFIG, "model.input is %d but the data has %lld features per sample",
                          cfg->model.input, (long long)t->train.n_features);
    return REPRO_OK;
}

/* Resolves the test perturbation's tensor name and checks its index. */
static repro_status find_perturbed_tensor(trainer *t, repro_error *err)
{
    const repro_test_perturb *p = &t->hooks.perturb;
    t->perturb_tensor = -1;
    if (p->step <= 0)
        return REPRO_OK;
    char names[512] = "";
    for (int i = 0; i < repro_model_n_tensors(t->model); i++) {
        const repro_param_info *info = repro_model_tensor(t->model, i);
        if (strcmp(info->name, p->tensor) == 0) {
            if (p->index < 0 || p->index >= info->numel)
                return repro_fail(err, REPRO_ERR_ARG, "test perturbation: index %lld is outside %s (%lld elements)",
                                  (long long)p->index, p->tensor, (long long)info->numel);
            t->perturb_tensor = i;
            return REPRO_OK;
        }
        size_t len = strlen(names);
        snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "", info->name);
    }
    return repro_fail(err, REPRO_ERR_ARG, "test perturbation: the model has no parameter tensor '%s' (it has %s)",
                      p->tensor, names);
}

/* The loader's per-sample transform: augmentation at (seed, epoch, position). */
static repro_status augment_sample(void *ctx, uint32_t epoch, uint32_t pos, float *x, int64_t n_features,
                                   repro_error *err)
{
    const trainer *t = ctx;
    return repro_augment_sample_isa(&t->cfg->augment, t->cfg->seed, epoch, pos, x, n_features, t->train.image_h,
                                    t->train.image_w, t->isa, err);
}

/* loader.on_device: keep the data sets in backend memory and gather the
 * batches there (auto: on a GPU, when augmentation is off and the features
 * are in memory; a GPU too small for them falls back to the loader). */
static repro_status choose_batches(trainer *t, int64_t micro, repro_error *err)
{
    const repro_config *cfg = t->cfg;
    repro_on_device want = cfg->loader.on_device;
    const char *why_not = repro_augment_enabled(&cfg->augment) ? "augmentation runs on the host (augment.*)"
                          : repro_resident_unsupported(&t->train)[0] ? repro_resident_unsupported(&t->train)
                          : t->test.n && repro_resident_unsupported(&t->test)[0] ? repro_resident_unsupported(&t->test)
                                                                                  : "";
    if (want == REPRO_ON_DEVICE_ON && why_not[0])
        return repro_fail(err, REPRO_ERR_CONFIG, "loader.on_device: on, but the data cannot be kept on the "
                          "device: %s", why_not);
    if (want == REPRO_ON_DEVICE_OFF || why_not[0] ||
        (want == REPRO_ON_DEVICE_AUTO && repro_backend_device(t->be) == REPRO_DEVICE_CPU))
        return REPRO_OK;
    repro_status st = repro_resident_data_init(&t->resident, t->be, &t->train, t->epoch_len, err);
    if (st == REPRO_OK && t->test.n)
        st = repro_resident_data_init(&t->resident_test, t->be, &t->test, 0, err);
    if (st == REPRO_OK)
        st = repro_resident_batch_alloc(&t->resident, micro, &t->rbatch, err);
    if (st == REPRO_OK) {
        t->on_device = 1;
        t->graphs = repro_be_has_graphs(t->be) && !t->opts->no_graphs;
        return REPRO_OK;
    }
    repro_resident_batch_free(&t->resident, &t->rbatch);
    repro_resident_data_free(&t->resident_test);
    repro_resident_data_free(&t->resident);
    if (want == REPRO_ON_DEVICE_AUTO && st == REPRO_ERR_NOMEM) { /* the host loader instead */
        char msg[sizeof err->message + 96];
        snprintf(msg, sizeof msg, "note: the data set stays on the host (%s); batches come through the loader",
                 err->message);
        warn_user(t, msg);
        return REPRO_OK;
    }
    return st;
}

/* The memory the run will allocate, estimated before any of it is (and
 * before the run directory exists): a model too big for the machine is
 * refused naming the key, not killed by the OOM killer half-way. */
static repro_status check_memory(const trainer *t, repro_error *err)
{
    repro_memory_plan plan;
    repro_memory_plan_make(t->cfg, t->train.n_features, repro_sampler_epoch_length(&t->cfg->sampler, t->n_train),
                           t->cfg->device == REPRO_DEVICE_CUDA, t->opts->resume_dir != NULL, &plan);
    return repro_memory_plan_check(&plan, t->cfg, repro_memory_available(), err);
}

static repro_status build_model(trainer *t, repro_error *err)
{
    const repro_config *cfg = t->cfg;
    int64_t micro = cfg->batch_size / cfg->accum_steps;
    int64_t cap = micro > cfg->eval_batch_size ? micro : cfg->eval_batch_size;
    repro_status st =
        repro_model_create(&cfg->model, cfg->source_path, (int)t->train.n_features, cap, t->be, &t->model, err);
    if (st != REPRO_OK)
        return st;
    int widths[REPRO_MAX_HEADS];
    for (int h = 0; h < cfg->model.n_heads; h++)
        widths[h] = repro_model_head_width(t->model, h);
    st = repro_heads_check(&cfg->model, widths, t->train.label || t->train.tokens ? t->train.n_classes : 0,
                           t->train.y || t->train.tokens ? t->train.n_targets : 0, err);
    if (st == REPRO_OK && t->train.tokens)
        st = repro_embedding_check(&cfg->model, t->train.n_vocab, cfg->data.train_text, err);
    if (st != REPRO_OK)
        return st;
    /* not bit-exact: repro_determinism_check allowed it (on CUDA the backend does it: cuBLAS) */
    if (cfg->mode == REPRO_MODE_FAST)
        repro_backend_cpu_fast(t->be, 1);
    st = repro_model_init_params(t->model, cfg->seed, err);
    if (st == REPRO_OK && cfg->init.from[0] && !t->opts->resume_dir) /* a resume restores its checkpoint */
        st = repro_init_from(t->model, t->be, cfg, err);
    int64_t np = repro_model_n_params(t->model);
    size_t pbytes = (size_t)np * sizeof(float);
    if (st == REPRO_OK)
        st = repro_optim_create(&cfg->optim, t->be, np, &t->optim, err);
    if (st == REPRO_OK)
        st = repro_state_hasher_create(t->be, np, &t->hasher, err);
    if (st == REPRO_OK && !(t->host = malloc(pbytes)))
        st = repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate a host copy of the parameters");
    if (st == REPRO_OK && cfg->ema.enabled)
        st = repro_be_alloc(t->be, pbytes, (void **)&t->ema, err);
    if (st == REPRO_OK && t->ema)
        st = repro_be_copy(t->be, t->ema, repro_model_params(t->model), pbytes, err);
    if (st == REPRO_OK && cfg->early_stopping.enabled)
        st = repro_be_alloc(t->be, pbytes, (void **)&t->best, err);
    if (st == REPRO_OK)
        st = repro_staged_batch_init(&t->staged, t->be, &t->train, micro, err);
    if (st != REPRO_OK)
        return st;
    st = repro_augment_check(&cfg->augment, t->train.n_features, t->train.image_h, t->train.image_w,
                             "the training data", err);
    t->epoch_len = repro_sampler_epoch_length(&cfg->sampler, t->n_train);
    if (st == REPRO_OK)
        st = choose_batches(t, micro, err);
    if (st == REPRO_OK && !t->on_device)
        st = repro_loader_create(&cfg->loader, &t->train, micro,
                                 repro_augment_enabled(&cfg->augment) ? augment_sample : NULL, t, &t->loader, err);
    /* workers = 0: the compute pool gathers the batches (data/loader_pool.h) */
    if (st == REPRO_OK && t->loader && repro_backend_cpu(t->be))
        repro_loader_use_pool(t->loader, repro_backend_cpu(t->be)->pool);
    if (st == REPRO_OK && t->loader && t->hooks.loader_jitter_us)
        st = repro_loader_set_test_jitter(t->loader, t->hooks.loader_jitter_us, err);
    if (st == REPRO_OK)
        st = repro_batch_alloc(&t->eval_batch, &t->train, cfg->eval_batch_size, err);
    for (int h = 0; st == REPRO_OK && h < cfg->model.n_heads; h++) {
        st = repro_be_alloc(t->be, (size_t)cfg->batch_size * sizeof(float), (void **)&t->step_loss[h], err);
        if (st == REPRO_OK)
            st = repro_be_alloc(t->be, (size_t)(micro * widths[h]) * sizeof(float), (void **)&t->d_out[h], err);
    }
    t->ring_len = repro_backend_device(t->be) == REPRO_DEVICE_CPU ? 1 : LOSS_RING;
    size_t ring_bytes = (size_t)(LOSS_RING * cfg->model.n_heads) * sizeof(float);
    if (st == REPRO_OK)
        st = repro_be_alloc(t->be, ring_bytes, (void **)&t->loss_ring, err);
    if (st == REPRO_OK && !(t->loss_host = malloc(ring_bytes)))
        st = repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the step losses");
    t->steps_per_epoch = repro_sampler_epoch_steps(&cfg->sampler, t->n_train, cfg->batch_size);
    if (st == REPRO_OK && t->steps_per_epoch < 1)
        st = repro_fail(err, REPRO_ERR_CONFIG, "an epoch has %lld samples, fewer than batch_size %d with "
                        "sampler.drop_last: no step would run", (long long)t->epoch_len, cfg->batch_size);
    if (st == REPRO_OK && (!(t->order = malloc((size_t)t->epoch_len * sizeof(uint32_t))) ||
                           !(t->epoch_rows = malloc((size_t)t->epoch_len * sizeof(uint32_t)))))
        st = repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the epoch order");
    if (st == REPRO_OK && t->train.label) {
        if (!(t->train_labels = malloc((size_t)t->n_train * sizeof(int32_t))))
            st = repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the training labels");
        for (int64_t i = 0; st == REPRO_OK && i < t->n_train; i++)
            t->train_labels[i] = t->train.label[t->train_rows[i]];
    }
    if (st == REPRO_OK)
        st = find_perturbed_tensor(t, err);
    t->total_steps = t->steps_per_epoch * cfg->epochs;
    if (cfg->max_steps > 0 && cfg->max_steps < t->total_steps)
        t->total_steps = cfg->max_steps;
    return st;
}


/* Data parallel: the shard sum, this rank's shards in the loader, and
 * what a world of more than one process cannot do yet. */
static repro_status setup_world(trainer *t, repro_error *err)
{
    const repro_config *cfg = t->cfg;
    int size = repro_world_size(t->world);
    if (size > 1 && t->opts->trace_dir)
        return repro_fail(err, REPRO_ERR_ARG, "--trace runs in one process only (this run has %d)", size);
    if (cfg->world.shards == 0 && size == 1)
        return REPRO_OK;
    repro_status st = REPRO_OK;
    if (size > 1 && cfg->world.shards >= size) /* one process applies them as it meets them */
        st = repro_bn_world_create(t->model, t->be, cfg->world.shards, size, repro_world_rank(t->world), cfg->batch_size,
                                   cfg->batch_size / cfg->accum_steps, &t->bn, err);
    if (st == REPRO_OK)
        st = repro_world_peers_open(t->world, t->be, &t->peers, t->exchange_how, sizeof t->exchange_how, err);
    if (st == REPRO_OK)
        st = repro_shard_sum_create(t->world, t->be, t->peers, cfg->world.shards, repro_model_n_params(t->model),
                                    cfg->model.n_heads, cfg->batch_size, repro_bn_world_max_floats(t->bn),
                                    &t->shard, err);
    int f, n;
    if (st == REPRO_OK)
        repro_shard_sum_owned(t->shard, &f, &n);
    if (st == REPRO_OK && t->loader)
        st = repro_loader_set_shards(t->loader, cfg->world.shards, f, n, err);
    for (int h = 0; st == REPRO_OK && h < cfg->model.n_heads && repro_backend_device(t->be) != REPRO_DEVICE_CPU; h++)
        if (!(t->shard_loss[h] = malloc((size_t)cfg->batch_size * sizeof(float))))
            st = repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the step's losses");
    t->graphs = 0; /* a step with host exchanges cannot be one CUDA Graph */
    return st;
}

/* run.json "world": the processes, hosts and engine, and every rank's
 * device (gathered: every rank calls this at the same point). */
static repro_status record_world(trainer *t, repro_error *err)
{
    enum { DESC = 256 };
    int size = repro_world_size(t->world);
    char mine[DESC] = "";
    snprintf(mine, sizeof mine, "%s", repro_backend_describe(t->be));
    char *all = calloc((size_t)size, DESC);
    size_t *bytes = calloc((size_t)size, sizeof *bytes);
    repro_status st = all && bytes ? REPRO_OK : repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the devices' list");
    for (int r = 0; st == REPRO_OK && r < size; r++)
        bytes[r] = DESC;
    if (st == REPRO_OK)
        st = repro_world_allgather(t->world, mine, all, bytes, 0, err);
    if (st == REPRO_OK && t->writer) {
        t->world_json = repro_world_describe(t->world, t->cfg->world.shards);
        if (t->exchange_how[0])
            cJSON_AddStringToObject(t->world_json, "gradient_exchange", t->exchange_how);
        cJSON *devices = cJSON_AddArrayToObject(t->world_json, "devices");
        for (int r = 0; r < size; r++) {
            all[(size_t)r * DESC + DESC - 1] = '\0';
            cJSON_AddItemToArray(devices, cJSON_CreateString(all + (size_t)r * DESC));
        }
        st = repro_run_set_json(t->run, "world", cJSON_Duplicate(t->world_json, 1), err);
    }
    free(all);
    free(bytes);
    return st;
}

static void trainer_free(trainer *t)
{
    /* the loader first: its workers may still be reading the data set (a
     * step that failed mid-epoch, e.g. a rank that died) */
    repro_loader_destroy(t->loader);
    t->loader = NULL;
    cJSON_Delete(t->world_json);
    /* NCCL first: after a failed exchange its kernels may still wait on a
     * peer that is gone, and freeing GPU memory would wait on them */
    repro_peers_close(t->peers, 1);
    repro_shard_sum_free(t->shard);
    repro_bn_world_free(t->bn);
    for (int h = 0; h < REPRO_MAX_HEADS; h++)
        free(t->shard_loss[h]);
    repro_dataset_free(&t->train);
    repro_dataset_free(&t->test);
    free(t->train_rows);
    free(t->val_rows);
    repro_state_hasher_destroy(t->hasher);
    repro_model_free(t->model);
    repro_optim_free(t->optim);
    if (t->be) {
        repro_be_free(t->be, t->ema);
        repro_be_free(t->be, t->best);
        for (int h = 0; h < REPRO_MAX_HEADS; h++) {
            repro_be_free(t->be, t->step_loss[h]);
            repro_be_free(t->be, t->d_out[h]);
        }
        repro_be_free(t->be, t->loss_ring);
        repro_staged_batch_free(&t->staged);
        repro_resident_batch_free(&t->resident, &t->rbatch);
        repro_resident_data_free(&t->resident_test);
        repro_resident_data_free(&t->resident);
    }
    free(t->loss_host);
    free(t->host);
    free(t->host_m);
    free(t->host_v);
    free(t->host_ema);
    free(t->host_best);
    free(t->host_buffers);
    repro_batch_free(&t->eval_batch);
    repro_error ignored;
    repro_trace_close(t->trace, &ignored);
    free(t->train_labels);
    free(t->order);
    free(t->epoch_rows);
    repro_backend_destroy(t->be);
}

/* ---- one optimiser step ---- */

/* The next float toward +inf (nextafterf(x, INFINITY) without libm):
 * +-0 becomes the smallest subnormal; NaN and +inf stay. */
static float next_up(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    if (x != x || u == 0x7f800000u)
        return x;
    if (u == 0x80000000u)
        u = 1;
    else if (u >> 31)
        u--;
    else
        u++;
    memcpy(&x, &u, 4);
    return x;
}

/* Records n floats of backend memory (copied to the host on a GPU). */
static repro_status trace_be(trainer *t, const char *op, const char *name, int per_micro, const float *data,
                             int64_t rows, int64_t cols, repro_error *err)
{
    if (repro_backend_device(t->be) == REPRO_DEVICE_CPU)
        return repro_trace_tensor(t->trace, op, name, per_micro, data, rows, cols, err);
    size_t bytes = (size_t)(rows * (cols ? cols : 1)) * sizeof(float);
    float *host = malloc(bytes ? bytes : 1);
    if (!host)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate a trace buffer");
    repro_status st = repro_be_download(t->be, host, data, bytes, err);
    if (st == REPRO_OK)
        st = repro_trace_tensor(t->trace, op, name, per_micro, host, rows, cols, err);
    free(host);
    return st;
}

/* Records every parameter tensor (or gradient) of the model as
 * "<prefix>.<tensor>" under op; base is backend memory. */
static repro_status trace_tensors(trainer *t, const char *op, const char *prefix, const float *base,
                                  repro_error *err)
{
    repro_status st = repro_be_download(t->be, t->host, base,
                                        (size_t)repro_model_n_params(t->model) * sizeof(float), err);
    for (int i = 0; st == REPRO_OK && i < repro_model_n_tensors(t->model); i++) {
        const repro_param_info *p = repro_model_tensor(t->model, i);
        char name[224];
        snprintf(name, sizeof name, "%s.%s", prefix, p->name);
        st = repro_trace_tensor(t->trace, op, name, 0, t->host + p->offset, p->shape[0],
                                p->ndim >= 2 ? p->numel / p->shape[0] : 0, err);
    }
    return st;
}

/* A head's per-sample losses [b] and loss gradients [b][w] of one micro-batch. */
/* The model's trace hook: its tensors are per micro-batch. */
static repro_status trace_model_tensor(void *ctx, const char *op, const char *name, const float *host, int64_t rows,
                                       int64_t cols, repro_error *err)
{
    return repro_trace_tensor(ctx, op, name, 1, host, rows, cols, err);
}

static repro_status trace_head(trainer *t, int h, const float *losses, int64_t b, int w, repro_error *err)
{
    char op[96], name[96];
    snprintf(op, sizeof op, "heads.%s.loss", t->cfg->model.heads[h].name);
    repro_status st = trace_be(t, op, op, 1, losses, b, 0, err);
    snprintf(name, sizeof name, "heads.%s.dout", t->cfg->model.heads[h].name);
    return st == REPRO_OK ? trace_be(t, op, name, 1, t->d_out[h], b, w, err) : st;
}

/* Forward, losses and backward of the micro-batches of step positions
 * [lo, hi) (of the step's count, from epoch position first), continuing
 * the gradients' in-order sums. *micro_i numbers the micro-batches
 * (traces). traced: record each tensor. */
static repro_status segment_backward(trainer *t, int64_t step, int64_t first, int64_t lo, int64_t hi, int64_t count,
                                     int traced, int *micro_i, repro_error *err)
{
    const repro_config *cfg = t->cfg;
    int nh = cfg->model.n_heads;
    int64_t done = lo; /* samples of the step so far */
    const int64_t micro = cfg->batch_size / cfg->accum_steps;
    for (; done < hi; (*micro_i)++) {
        const repro_batch *host_batch = NULL, *batch;
        int64_t b, step_size;
        int last;
        repro_status st;
        if (t->on_device) { /* the loader's cut: micro-batches of micro, the last may be shorter */
            b = hi - done < micro ? hi - done : micro;
            st = repro_resident_batch(&t->resident, first + done, b, &t->rbatch, err);
            batch = &t->rbatch;
        } else {
            st = repro_loader_next(t->loader, &host_batch, &b, &step_size, &last, err);
            if (st == REPRO_OK && (!host_batch || step_size != count || host_batch->pos[0] != (uint32_t)(first + done)
                                   || done + b > hi || (last && done + b != hi)))
                st = repro_fail(err, REPRO_ERR_INTERNAL,
                                "the data loader is out of step with the trainer at step %lld", (long long)step + 1);
            if (st == REPRO_OK)
                st = repro_staged_batch_put(&t->staged, host_batch, b, &batch, err);
        }
        if (st != REPRO_OK) {
            if (host_batch)
                repro_loader_release(t->loader, host_batch);
            return st;
        }
        if (traced)
            repro_trace_at(t->trace, step + 1, cfg->accum_steps > 1 ? *micro_i : -1);
        st = repro_model_forward(t->model, t->be, repro_model_params(t->model), batch->x, b, 1, cfg->seed,
                                 (uint64_t)step, batch->pos, err);
        for (int h = 0; st == REPRO_OK && h < nh; h++) {
            const float *out = repro_model_head_output(t->model, h);
            int w = repro_model_head_width(t->model, h);
            st = repro_head_loss(t->be, &cfg->model.heads[h], out, w, batch, b, t->step_loss[h] + done, NULL,
                                 err);
            if (st == REPRO_OK)
                st = repro_head_grad(t->be, &cfg->model.heads[h], out, w, batch, b, count, t->d_out[h], err);
            if (st == REPRO_OK && traced)
                st = trace_head(t, h, t->step_loss[h] + done, b, w, err);
        }
        if (st == REPRO_OK)
            st = repro_model_backward(t->model, t->be, batch->x, b, t->d_out, err);
        if (host_batch)
            repro_loader_release(t->loader, host_batch);
        if (st != REPRO_OK)
            return st;
        done += b;
    }
    return REPRO_OK;
}

/* world.shards: each owned shard's gradient from +0 into its leaf, then
 * the tree over every rank's shards into the gradients, and every rank's
 * per-sample losses into step_loss (train/shard_sum.h); with batch norm
 * over processes, every rank's groups' statistics replayed into the
 * running statistics (train/bn_world.h). */
static repro_status shards_backward(trainer *t, int64_t step, int64_t first, int64_t count, int traced,
                                    repro_error *err)
{
    int64_t np = repro_model_n_params(t->model);
    size_t pbytes = (size_t)np * sizeof(float);
    float *grads = repro_model_grads(t->model);
    int on_cpu = repro_backend_device(t->be) == REPRO_DEVICE_CPU, nh = t->cfg->model.n_heads;
    int f, n, micro_i = 0;
    repro_shard_sum_owned(t->shard, &f, &n);
    repro_status st = REPRO_OK;
    if (t->bn)
        repro_bn_world_begin(t->bn);
    for (int i = 0; st == REPRO_OK && i < n; i++) {
        int64_t lo, hi;
        repro_shard_range(t->cfg->world.shards, f + i, count, &lo, &hi);
        st = repro_be_zero(t->be, grads, pbytes, err);
        if (st == REPRO_OK)
            st = segment_backward(t, step, first, lo, hi, count, traced, &micro_i, err);
        if (st == REPRO_OK)
            st = repro_be_copy(t->be, repro_shard_sum_leaf(t->shard, i), grads, pbytes, err);
    }
    float *losses[REPRO_MAX_HEADS];
    for (int h = 0; h < nh; h++) /* the per-sample losses, on the host */
        losses[h] = on_cpu ? t->step_loss[h] : t->shard_loss[h];
    for (int h = 0; st == REPRO_OK && !on_cpu && h < nh; h++)
        st = repro_be_download(t->be, losses[h], t->step_loss[h], (size_t)count * sizeof(float), err);
    repro_shard_extra bn_stats;
    repro_error ignored;
    if (t->bn) { /* the model stops logging, whatever happened */
        repro_status end = repro_bn_world_end(t->bn, count, &bn_stats, st == REPRO_OK ? err : &ignored);
        st = st == REPRO_OK ? end : st;
    }
    int stop = t->opts->interrupt && *t->opts->interrupt; /* read once: it may change */
    double t0 = now_sec();
    if (st == REPRO_OK)
        st = repro_shard_sum_reduce(t->shard, step, count, losses, t->bn ? &bn_stats : NULL, stop, &t->world_stop,
                                    grads, err);
    if (st == REPRO_OK && t->bn)
        st = repro_bn_world_replay(t->bn, err);
    t->exchange_sec += now_sec() - t0;
    for (int h = 0; st == REPRO_OK && !on_cpu && h < nh; h++)
        st = repro_be_upload(t->be, t->step_loss[h], losses[h], (size_t)count * sizeof(float), err);
    return st;
}

/* Forward, losses and backward of every micro-batch of a step (gradients
 * start at +0; with world.shards, each shard's do). traced: record each
 * tensor. */
static repro_status step_backward(trainer *t, int64_t step, int64_t first, int64_t count, int traced,
                                  repro_error *err)
{
    if (t->shard)
        return shards_backward(t, step, first, count, traced, err);
    repro_status st = repro_be_zero(t->be, repro_model_grads(t->model),
                                    (size_t)repro_model_n_params(t->model) * sizeof(float), err);
    int micro_i = 0;
    if (st == REPRO_OK)
        st = segment_backward(t, step, first, 0, count, count, traced, &micro_i, err);
    return st;
}

/* The step's loss from its heads' loss sums [n_heads] over count samples:
 * sum over heads of weight * (sum / count), heads in order. */
static float step_loss(const trainer *t, const float *sums, int64_t count)
{
    float total = 0.0f;
    for (int h = 0; h < t->cfg->model.n_heads; h++)
        total = total + t->cfg->model.heads[h].weight * (sums[h] / (float)count);
    return total;
}

/* Trains on epoch positions [first, first + count) as optimiser step `step`
 * (0-based). Its heads' loss sums go to loss_ring row `slot` (backend
 * memory), for the host to settle later. */
static repro_status train_step(trainer *t, int64_t step, int64_t first, int64_t count, float lr, int slot,
                               repro_error *err)
{
    const repro_config *cfg = t->cfg;
    int nh = cfg->model.n_heads;
    int64_t np = repro_model_n_params(t->model);
    float *grads = repro_model_grads(t->model);
    int traced = repro_trace_wants(t->trace, step + 1);
    repro_status st = REPRO_OK;
    if (traced) {
        repro_trace_at(t->trace, step + 1, -1);
        if (!t->traced_params)
            st = trace_tensors(t, "params", "params", repro_model_params(t->model), err);
        t->traced_params = 1;
        repro_model_set_trace(t->model, trace_model_tensor, t->trace);
    }
    if (st == REPRO_OK)
        st = step_backward(t, step, first, count, traced, err);
    repro_model_set_trace(t->model, NULL, NULL);
    if (st != REPRO_OK)
        return st;
    if (t->perturb_tensor >= 0 && step + 1 == t->hooks.perturb.step) {
        float *g = grads + repro_model_tensor(t->model, t->perturb_tensor)->offset + t->hooks.perturb.index;
        float v;
        st = repro_be_download(t->be, &v, g, sizeof v, err);
        v = next_up(v);
        if (st == REPRO_OK)
            st = repro_be_upload(t->be, g, &v, sizeof v, err);
        if (st != REPRO_OK)
            return st;
    }
    if (traced) {
        repro_trace_at(t->trace, step + 1, -1);
        st = trace_tensors(t, "grad", "grad", grads, err);
        if (st != REPRO_OK)
            return st;
    }

    float *sums = t->loss_ring + (size_t)slot * (size_t)nh;
    for (int h = 0; h < nh; h++)
        if ((st = repro_be_sum_into(t->be, t->step_loss[h], count, sums + h, err)) != REPRO_OK)
            return st;
    if (traced) {
        float host_sums[REPRO_MAX_HEADS];
        st = repro_be_download(t->be, host_sums, sums, (size_t)nh * sizeof(float), err);
        float total = step_loss(t, host_sums, count);
        if (st == REPRO_OK)
            st = repro_trace_tensor(t->trace, "step", "loss", 0, &total, 1, 0, err);
        if (st != REPRO_OK)
            return st;
    }

    if (cfg->optim.clip_norm > 0.0f && (st = repro_be_clip(t->be, grads, np, cfg->optim.clip_norm, NULL, err)))
        return st;
    if ((st = repro_optim_step(t->optim, repro_model_params(t->model), grads, lr, err)) != REPRO_OK)
        return st;
    if (t->ema)
        st = repro_be_ema(t->be, t->ema, repro_model_params(t->model), np, cfg->ema.decay, err);
    return st;
}

/* train_step, recorded and run as one CUDA Graph where the backend has
 * graphs and the batches are gathered on the device: a graph launches the
 * step's ~30 small kernels at once instead of one by one. Every step is
 * recorded anew (its arguments change: step number, positions, learning
 * rate) and the previous graph updated in place. The first step of the
 * process runs plainly (it sizes the scratch buffers); so do traced and
 * perturbed steps. A recording that fails turns graphs off for the rest of
 * the run, with a note, and the step runs plainly: nothing of it had run. */
static repro_status run_step(trainer *t, int64_t step, int64_t first, int64_t count, float lr, int slot,
                             repro_error *err)
{
    int graphed = t->graphs && t->steps_run > 0 && !repro_trace_wants(t->trace, step + 1) &&
                  !(t->perturb_tensor >= 0 && step + 1 == t->hooks.perturb.step);
    t->steps_run++;
    if (!graphed)
        return train_step(t, step, first, count, lr, slot, err);
    int64_t optim_steps = repro_optim_steps(t->optim);
    repro_error gerr, ignored;
    repro_status st = repro_be_graph_begin(t->be, &gerr);
    if (st == REPRO_OK) {
        st = train_step(t, step, first, count, lr, slot, &gerr);
        repro_status end = repro_be_graph_end(t->be, st == REPRO_OK, st == REPRO_OK ? &gerr : &ignored);
        if (st == REPRO_OK)
            st = end;
    }
    if (st == REPRO_OK)
        return REPRO_OK;
    t->graphs = 0;
    repro_optim_set_steps(t->optim, optim_steps); /* the recorded step never ran */
    char msg[sizeof gerr.message + 128];
    snprintf(msg, sizeof msg, "CUDA Graphs are off for the rest of this run (%s); steps run kernel by kernel",
             gerr.message);
    warn_user(t, msg);
    return train_step(t, step, first, count, lr, slot, err);
}

/* ---- hashing and the ledger ---- */

/* SHA-256 of a parameter-shaped buffer of backend memory. */
static repro_status buffer_hash(trainer *t, const float *buf, char hex[65], repro_error *err)
{
    size_t bytes = (size_t)repro_model_n_params(t->model) * sizeof(float);
    repro_status st = repro_be_download(t->be, t->host, buf, bytes, err);
    if (st == REPRO_OK)
        repro_sha256_hex(t->host, bytes, hex);
    return st;
}

/* ---- evaluation and early stopping ---- */

static const float *eval_params(trainer *t)
{
    return t->ema ? t->ema : repro_model_params(t->model);
}

static repro_status evaluate_sets(trainer *t, const float *params, repro_eval_result *val,
                                  repro_eval_result *test, repro_error *err)
{
    repro_eval_ctx e = {&t->cfg->model, t->model, t->be, &t->train, &t->eval_batch,
                        t->on_device ? &t->resident : NULL};
    repro_status st = repro_evaluate(&e, params, t->val_rows, t->n_val, val, err);
    if (st != REPRO_OK || t->test.n == 0) {
        test->n = 0;
        return st;
    }
    e.data = &t->test;
    e.resident = t->on_device ? &t->resident_test : NULL;
    return repro_evaluate(&e, params, NULL, t->test.n, test, err);
}

/* Updates the early-stopping state after an epoch's evaluation; *stop = 1
 * when training should stop after this epoch. */
static repro_status early_stop_update(trainer *t, repro_train_state *s, const repro_eval_result *val, int *stop,
                                      repro_error *err)
{
    const repro_early_stop_config *c = &t->cfg->early_stopping;
    *stop = 0;
    if (!c->enabled || val->n == 0)
        return REPRO_OK;
    int higher_better = c->metric == REPRO_METRIC_VAL_ACCURACY;
    float m = higher_better ? val->accuracy : val->loss;
    int improved = !s->es_has_best ||
                   (higher_better ? m > s->es_best + c->min_delta : m < s->es_best - c->min_delta);
    if (improved) {
        s->es_has_best = 1;
        s->es_best = m;
        s->es_bad_epochs = 0;
        return repro_be_copy(t->be, t->best, eval_params(t), (size_t)repro_model_n_params(t->model) * sizeof(float),
                             err);
    }
    *stop = ++s->es_bad_epochs >= c->patience;
    return REPRO_OK;
}

/* ---- the run ---- */

static void report(trainer *t, repro_progress *p)
{
    if (t->opts->progress && t->writer)
        t->opts->progress(t->opts->progress_ctx, p);
}

/* The checkpointed state in host memory. On the CPU backend that is the
 * training buffers themselves; on a GPU, host mirrors that to_host fills
 * before a save and from_host copies back after a load. */
enum { CKPT_BUFFERS = 6 };

/* The backend buffers a checkpoint holds and their sizes in bytes. */
static void ckpt_device(trainer *t, float *dev[CKPT_BUFFERS], size_t bytes[CKPT_BUFFERS])
{
    float *m, *v;
    repro_optim_state(t->optim, &m, &v);
    float *d[CKPT_BUFFERS] = {repro_model_params(t->model), m, v, t->ema, t->best,
                              repro_model_n_buffers(t->model) ? repro_model_buffers(t->model) : NULL};
    for (int i = 0; i < CKPT_BUFFERS; i++) {
        dev[i] = d[i];
        bytes[i] = (size_t)(i < 5 ? repro_model_n_params(t->model) : repro_model_n_buffers(t->model)) * sizeof(float);
    }
}

static repro_status ckpt_parts(trainer *t, repro_ckpt_parts *parts, int to_host, repro_error *err)
{
    float *dev[CKPT_BUFFERS];
    size_t bytes[CKPT_BUFFERS];
    ckpt_device(t, dev, bytes);
    if (repro_backend_device(t->be) == REPRO_DEVICE_CPU) {
        *parts = (repro_ckpt_parts){t->model, dev[0], dev[1], dev[2], dev[3], dev[4], dev[5],
                                    repro_optim_steps(t->optim)};
        return REPRO_OK;
    }
    float **host[CKPT_BUFFERS] = {&t->host, &t->host_m, &t->host_v, &t->host_ema, &t->host_best, &t->host_buffers};
    float *h[CKPT_BUFFERS] = {0};
    repro_status st = REPRO_OK;
    for (int i = 0; st == REPRO_OK && i < CKPT_BUFFERS; i++) {
        if (!dev[i])
            continue;
        if (!*host[i] && !(*host[i] = malloc(bytes[i])))
            st = repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate a checkpoint buffer");
        h[i] = *host[i];
        if (st == REPRO_OK && to_host)
            st = repro_be_download(t->be, h[i], dev[i], bytes[i], err);
    }
    *parts = (repro_ckpt_parts){t->model, h[0], h[1], h[2], h[3], h[4], h[5], repro_optim_steps(t->optim)};
    return st;
}

/* After a checkpoint load: the host parts back into the training buffers. */
static repro_status ckpt_restore(trainer *t, const repro_ckpt_parts *parts, repro_error *err)
{
    repro_optim_set_steps(t->optim, parts->optim_steps);
    if (repro_backend_device(t->be) == REPRO_DEVICE_CPU)
        return REPRO_OK;
    float *dev[CKPT_BUFFERS];
    size_t bytes[CKPT_BUFFERS];
    ckpt_device(t, dev, bytes);
    const float *h[CKPT_BUFFERS] = {parts->params, parts->m, parts->v, parts->ema, parts->best, parts->buffers};
    repro_status st = REPRO_OK;
    for (int i = 0; st == REPRO_OK && i < CKPT_BUFFERS; i++)
        if (dev[i])
            st = repro_be_upload(t->be, dev[i], h[i], bytes[i], err);
    return st;
}

/* Evaluates at the end of an epoch, writes its metrics line, updates early
 * stopping and moves the state to the next epoch. */
static repro_status end_epoch(trainer *t, repro_train_state *s, float lr, int64_t seen, double epoch_sec,
                              repro_progress *p, repro_error *err)
{
    repro_eval_result val, test;
    repro_status st = evaluate_sets(t, eval_params(t), &val, &test, err);
    if (st == REPRO_OK) /* nothing evaluated on changed data is recorded */
        st = repro_dataset_check_unchanged(&t->train, err);
    if (st == REPRO_OK)
        st = repro_dataset_check_unchanged(&t->test, err);
    if (st != REPRO_OK)
        return st;
    int stop;
    st = early_stop_update(t, s, &val, &stop, err);
    if (st != REPRO_OK)
        return st;
    float train_loss = s->step_in_epoch > 0 ? s->epoch_loss_sum / (float)s->step_in_epoch : 0.0f;
    double rate = epoch_sec > 0 ? (double)seen / epoch_sec : 0.0; /* this process's share of the epoch */
    if (t->writer)
        st = repro_record_epoch(t->run, (int)s->epoch, s->step, train_loss, lr, &val, &test, rate,
                                p->loader_wait_sec, err);
    if (st != REPRO_OK)
        return st;
    p->kind = REPRO_PROGRESS_EPOCH;
    p->epoch = (int)s->epoch;
    p->step = s->step;
    p->loss = train_loss;
    p->samples_per_sec = rate;
    p->has_val = val.n > 0;
    p->val_loss = val.loss;
    p->val_accuracy = val.accuracy;
    p->has_bits_per_char = val.n > 0 && val.has_bits_per_char;
    p->val_bits_per_char = val.bits_per_char;
    p->has_test = test.n > 0;
    p->test_loss = test.loss;
    p->test_accuracy = test.accuracy;
    p->has_accuracy = val.n > 0 ? val.has_accuracy : test.has_accuracy;
    p->early_stop = stop;
    p->elapsed_sec = now_sec() - t->t_start;
    report(t, p);
    s->epoch++;
    s->step_in_epoch = 0;
    s->epoch_loss_sum = 0.0f;
    s->epoch_seen = 0;
    if (stop)
        s->finished = 1;
    return REPRO_OK;
}

/* The epoch's order from the sampler, and the loader started on it at the
 * state's position (mid-epoch after a resume), or the order uploaded for
 * batches gathered on the device. */
static repro_status begin_epoch(trainer *t, const repro_train_state *s, repro_error *err)
{
    const repro_config *cfg = t->cfg;
    uint32_t epoch = (uint32_t)s->epoch;
    repro_status st = repro_sampler_epoch(&cfg->sampler, cfg->seed, epoch, t->train_labels, t->n_train,
                                          t->train.n_classes, t->order, t->epoch_len, err);
    if (st != REPRO_OK)
        return st;
    for (int64_t p = 0; p < t->epoch_len; p++)
        t->epoch_rows[p] = t->train_rows[t->order[p]];
    int64_t len = t->steps_per_epoch * cfg->batch_size < t->epoch_len ? t->steps_per_epoch * cfg->batch_size
                                                                       : t->epoch_len; /* drop_last */
    if (t->on_device)
        return repro_resident_set_order(&t->resident, t->epoch_rows, len, err);
    return repro_loader_begin_epoch(t->loader, epoch, t->epoch_rows, len, s->step_in_epoch * cfg->batch_size,
                                    cfg->batch_size, cfg->batch_size / cfg->accum_steps, err);
}

/* Writes down the queued steps, oldest first: each one's loss (from the
 * heads' sums in the loss ring, copied to the host at once), the
 * non-finite check, its ledger line (with the hashes the state hasher made
 * of the snapshot taken right after a hash step), the epoch's running loss
 * and a progress report. */
static repro_status settle(trainer *t, repro_train_state *s, repro_progress *p, double t_epoch,
                           int64_t seen_at_start, repro_error *err)
{
    int nh = t->cfg->model.n_heads, n = t->n_pending;
    t->n_pending = 0;
    if (n == 0)
        return REPRO_OK;
    repro_state_hasher_finish(t->hasher);
    /* a mapped data file changed under the run: these steps may have read
     * the new bytes; none of them is recorded */
    repro_status st = repro_dataset_check_unchanged(&t->train, err);
    if (st == REPRO_OK)
        st = repro_dataset_check_unchanged(&t->test, err);
    if (st == REPRO_OK)
        st = repro_be_download(t->be, t->loss_host, t->loss_ring, (size_t)(n * nh) * sizeof(float), err);
    for (int i = 0; st == REPRO_OK && i < n; i++) {
        const pending_step *q = &t->pending[i];
        float loss = step_loss(t, t->loss_host + (size_t)i * (size_t)nh, q->count);
        if (!isfinite(loss))
            return repro_fail(err, REPRO_ERR_NUMERIC, "step %lld: the loss is %s; stopping (try a lower optim.lr)",
                              (long long)q->step + 1, isnan(loss) ? "nan" : "inf");
        if (t->writer)
            st = repro_run_ledger(t->run, q->step + 1, q->epoch, loss, q->lr, q->hash ? q->params_hex : NULL,
                                  q->hash ? q->optim_hex : NULL, err);
        if (st != REPRO_OK)
            return st;
        s->epoch_loss_sum += loss;
        s->last_loss = loss;
        int64_t behind = s->step - (q->step + 1); /* queued steps after this one */
        double el = now_sec() - t_epoch;
        p->kind = REPRO_PROGRESS_STEP;
        p->epoch = q->epoch;
        p->step = q->step + 1;
        p->step_in_epoch = s->step_in_epoch - behind;
        p->loss = loss;
        p->lr = q->lr;
        p->samples_per_sec = el > 0 ? (double)(s->epoch_seen - seen_at_start) / el : 0.0;
        p->loader_wait_sec = t->loader ? repro_loader_wait_seconds(t->loader) : 0.0;
        p->elapsed_sec = now_sec() - t->t_start;
        report(t, p);
    }
    return st;
}

/* Ends the loader's epoch (nothing to do for batches gathered on the device). */
static void end_batches(trainer *t)
{
    if (t->loader)
        repro_loader_end_epoch(t->loader);
}

/* --stop-after 0: checkpoints the state before the first step (the
 * initial weights; `--resume` trains on from it with the same bits) and
 * stops. */
static repro_status stop_at_start(trainer *t, repro_train_state *s, char *stopped, size_t stopped_size,
                                  repro_error *err)
{
    repro_ckpt_parts parts;
    repro_status st = ckpt_parts(t, &parts, 1, err);
    if (st == REPRO_OK)
        st = repro_checkpoint_save(t->run, t->cfg->checkpoint.keep, t->config_sha256, &parts, s, err);
    if (st == REPRO_OK)
        snprintf(stopped, stopped_size, "stopped before step 1 (--stop-after 0)");
    return st;
}

/* Trains from state *s until the planned steps are done, early stopping
 * ends the run, opts->stop_after is reached or opts->interrupt is raised
 * (then *stopped says why). Checkpoints every checkpoint.every_steps steps,
 * at the end of every epoch (checkpoint.every_epoch), after the first step
 * checkpoint.every_seconds past the last one, and when stopped: snapshots,
 * which the arithmetic never reads, so when they happen changes no bit. */
static repro_status train_epochs(trainer *t, repro_train_state *s, char *stopped, size_t stopped_size,
                                 repro_error *err)
{
    const repro_config *cfg = t->cfg;
    repro_progress p = {.run_dir = t->run ? repro_run_dir(t->run) : "", .epochs = cfg->epochs, .total_steps = t->total_steps,
                        .steps_in_epoch = t->steps_per_epoch, .step = s->step};
    p.kind = REPRO_PROGRESS_START;
    report(t, &p);
    stopped[0] = '\0';
    if (t->opts->stop_at_start && s->step == 0) /* the initial weights, as a checkpoint of step 0 */
        return stop_at_start(t, s, stopped, stopped_size, err);
    float lr = cfg->optim.lr;
    while (!s->finished && s->epoch < cfg->epochs && s->step < t->total_steps) {
        repro_status st = begin_epoch(t, s, err);
        if (st != REPRO_OK)
            return st;
        double t_epoch = now_sec();
        int64_t seen_at_start = s->epoch_seen;
        /* end_epoch moves s to the next epoch, which needs its own shuffle:
         * the inner loop ends with the epoch it started. */
        const int64_t epoch = s->epoch;
        while (s->epoch == epoch && s->step_in_epoch < t->steps_per_epoch && s->step < t->total_steps) {
            int64_t first = s->step_in_epoch * cfg->batch_size;
            int64_t count = t->epoch_len - first < cfg->batch_size ? t->epoch_len - first : cfg->batch_size;
            lr = repro_schedule_lr(&cfg->schedule, cfg->optim.lr, s->step, t->total_steps);
            int last = s->step + 1 == t->total_steps;
            int hash = t->writer &&
                       (last || (cfg->ledger.hash_every > 0 && (s->step + 1) % cfg->ledger.hash_every == 0));
            st = run_step(t, s->step, first, count, lr, t->n_pending, err);
            if (st != REPRO_OK)
                return st;
            pending_step *q = &t->pending[t->n_pending++];
            *q = (pending_step){.step = s->step, .epoch = (int)s->epoch, .lr = lr, .count = count, .hash = hash};
            if (hash) { /* the state right after this step, hashed while training goes on */
                float *m, *v;
                repro_optim_state(t->optim, &m, &v);
                st = repro_state_hasher_start(t->hasher, repro_model_params(t->model), m, v,
                                              repro_optim_steps(t->optim), q->params_hex, q->optim_hex, err);
                if (st != REPRO_OK)
                    return st;
            }
            s->step++;
            s->step_in_epoch++;
            s->epoch_seen += count;
            t->samples_seen += count;

            int epoch_done = s->step_in_epoch == t->steps_per_epoch || s->step == t->total_steps;
            int at_stop_after = t->opts->stop_after > 0 && s->step == t->opts->stop_after;
            /* read once: it may change; with shards, any rank's, agreed in the step's exchange */
            int interrupted = t->shard ? t->world_stop : t->opts->interrupt && *t->opts->interrupt;
            int by_steps = cfg->checkpoint.every_steps > 0 && s->step % cfg->checkpoint.every_steps == 0;
            /* wall time is each rank's own: data-parallel runs checkpoint by steps and epochs only */
            int timed = !t->shard && cfg->checkpoint.every_seconds > 0 &&
                        now_sec() - t->ckpt_sec >= (double)cfg->checkpoint.every_seconds;
            int every = by_steps || timed || (epoch_done && cfg->checkpoint.every_epoch);
            /* everything below that reads the state or the parameters comes after a settle */
            if (epoch_done || every || at_stop_after || interrupted || t->n_pending == t->ring_len) {
                st = settle(t, s, &p, t_epoch, seen_at_start, err);
                if (st != REPRO_OK)
                    return st;
            }
            if (epoch_done) {
                double epoch_sec = now_sec() - t_epoch;
                p.loader_wait_sec = t->loader ? repro_loader_wait_seconds(t->loader) : 0.0;
                end_batches(t);
                st = end_epoch(t, s, lr, s->epoch_seen - seen_at_start, epoch_sec, &p, err);
                if (st != REPRO_OK)
                    return st;
                /* raised by the epoch's own progress callback: stop here, not a step later */
                interrupted = interrupted || (t->opts->interrupt && *t->opts->interrupt);
            }
            if (s->step == t->total_steps || s->epoch == cfg->epochs)
                s->finished = 1;
            if (at_stop_after && !s->finished)
                snprintf(stopped, stopped_size, "stopped after step %lld (--stop-after)", (long long)s->step);
            else if (interrupted && !s->finished)
                snprintf(stopped, stopped_size, "interrupted at step %lld", (long long)s->step);
            /* the finished run's model is written by finish(); a checkpoint
             * there only by every_steps, as before the other triggers */
            if ((every && (!s->finished || by_steps)) || stopped[0]) {
                repro_ckpt_parts parts;
                st = ckpt_parts(t, &parts, 1, err);
                if (st == REPRO_OK && t->writer) /* one checkpoint, from rank 0: every rank's state is the same */
                    st = repro_checkpoint_save(t->run, cfg->checkpoint.keep, t->config_sha256, &parts, s, err);
                if (st != REPRO_OK)
                    return st;
                t->ckpt_sec = now_sec();
            }
            if (stopped[0] || s->finished) {
                end_batches(t);
                return REPRO_OK;
            }
        }
    }
    s->finished = 1;
    return REPRO_OK;
}

/* The final model: the best epoch's weights under early stopping with
 * restore_best, else the EMA weights when enabled, else the parameters. */
static const float *final_params(trainer *t, int early_best)
{
    if (early_best)
        return t->best;
    return eval_params(t);
}

static repro_status finish(trainer *t, const repro_train_state *s, repro_train_result *res, repro_error *err)
{
    const repro_config *cfg = t->cfg;
    int early_best = t->best && cfg->early_stopping.restore_best && t->n_val > 0;
    const float *params = final_params(t, early_best);
    repro_eval_result val, test;
    repro_status st = evaluate_sets(t, params, &val, &test, err);
    if (st == REPRO_OK)
        st = repro_dataset_check_unchanged(&t->train, err);
    if (st == REPRO_OK)
        st = repro_dataset_check_unchanged(&t->test, err);
    if (st != REPRO_OK)
        return st;
    res->has_val = val.n > 0;
    res->val_loss = val.loss;
    res->val_accuracy = val.accuracy;
    res->has_test = test.n > 0;
    res->test_loss = test.loss;
    res->test_accuracy = test.accuracy;
    res->has_accuracy = val.n > 0 ? val.has_accuracy : test.has_accuracy;
    res->train_seconds = now_sec() - t->t_start;
    res->samples_per_sec = res->train_seconds > 0 ? (double)t->samples_seen / res->train_seconds : 0.0;
    st = buffer_hash(t, repro_model_params(t->model), res->params_sha256, err);
    if (st == REPRO_OK)
        st = repro_optim_hash(t->optim, res->optim_sha256, err);
    /* model.safetensors holds `params`: the EMA or best-epoch weights when
     * those are on, so its own hash is recorded beside params_sha256; after
     * this t->host holds those weights */
    if (st == REPRO_OK)
        st = buffer_hash(t, params, res->model_sha256, err);
    if (st != REPRO_OK)
        return st;
    res->steps = s->step;
    res->epochs_run = (int)s->epoch;
    res->final_loss = s->last_loss;
    res->stopped_early = s->step < t->total_steps && s->epoch < cfg->epochs;
    float *stats = NULL; /* the running statistics, on the host */
    size_t stat_bytes = (size_t)repro_model_n_buffers(t->model) * sizeof(float);
    if (stat_bytes && !(stats = malloc(stat_bytes)))
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot allocate the running statistics' copy");
    if (stat_bytes)
        st = repro_be_download(t->be, stats, repro_model_buffers(t->model), stat_bytes, err);
    if (st == REPRO_OK && t->writer)
        st = repro_record_model(t->run, t->model, t->host, stats, cfg, res->steps, err);
    free(stats);
    if (st == REPRO_OK && t->writer)
        st = repro_record_final(t->run, res, &val, &test, early_best, err);
    if (st == REPRO_OK && t->writer && t->shard) { /* the exchange's share of the training time */
        cJSON *w = cJSON_Duplicate(t->world_json, 1);
        cJSON_AddNumberToObject(w, "exchange_sec", t->exchange_sec);
        cJSON_AddNumberToObject(w, "train_sec", res->train_seconds);
        st = repro_run_set_json(t->run, "world", w, err);
    }
    return st;
}

/* run.json "backend": where the arithmetic ran (GPU name, compute
 * capability, driver and runtime versions on CUDA). */
static repro_status record_backend(trainer *t, repro_error *err)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "device", repro_backend_device(t->be) == REPRO_DEVICE_CUDA ? "cuda" : "cpu");
    cJSON_AddStringToObject(o, "description", repro_backend_describe(t->be));
    cJSON_AddStringToObject(o, "batches", t->on_device ? "gathered in device memory (loader.on_device)"
                                                       : "host loader");
    if (repro_be_has_graphs(t->be))
        cJSON_AddStringToObject(o, "step_graphs", t->graphs ? "on" : "off");
    char facts[1024];
    snprintf(facts, sizeof facts, "%s", repro_backend_facts(t->be));
    char *save = NULL;
    for (char *line = strtok_r(facts, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (eq) {
            *eq = '\0';
            cJSON_AddStringToObject(o, line, eq + 1);
        }
    }
    return repro_run_set_json(t->run, "backend", o, err);
}

static repro_status config_hash(const repro_config *cfg, char hex[65], repro_error *err)
{
    char *text = repro_config_to_json(cfg);
    if (!text)
        return repro_fail(err, REPRO_ERR_NOMEM, "cannot serialise the config");
    repro_sha256_hex(text, strlen(text), hex);
    free(text);
    return REPRO_OK;
}

/* Restores the newest valid checkpoint of opts->resume_dir and reopens the
 * run there, its ledger and metrics cut back to the checkpoint's step. */
static repro_status resume(trainer *t, repro_train_state *s, repro_train_result *res, repro_error *err)
{
    repro_ckpt_parts parts;
    const char *dir = t->opts->resume_dir;
    const repro_config *cfg = t->cfg;
    repro_ckpt_bounds bounds = {.steps_per_epoch = t->steps_per_epoch, .total_steps = t->total_steps,
                                .epochs = cfg->epochs, .batch_size = cfg->batch_size, .epoch_len = t->epoch_len,
                                .early_stopping = cfg->early_stopping.enabled && t->n_val > 0,
                                .patience = cfg->early_stopping.patience};
    /* ranks other than 0 only read the checkpoint: rank 0 owns the directory */
    repro_status st = t->writer ? repro_run_check_not_live(dir, err) : REPRO_OK;
    if (st == REPRO_OK)
        st = ckpt_parts(t, &parts, 0, err);
    if (st == REPRO_OK)
        st = repro_checkpoint_load_newest(dir, t->opts->resume_force ? NULL : t->config_sha256, &bounds, &parts, s,
                                                   res->resume_notes, sizeof res->resume_notes, res->resumed_from,
                                                   sizeof res->resumed_from, err);
    /* A checkpoint at the end of training (the process died before the run
     * was marked complete): no step is left; the run is finished from it. */
    if (st == REPRO_OK)
        st = ckpt_restore(t, &parts, err);
    /* the ledger and metrics must reach the checkpoint and agree with it
     * before anything in the directory changes */
    char params_hex[65], optim_hex[65];
    if (st == REPRO_OK)
        st = buffer_hash(t, repro_model_params(t->model), params_hex, err);
    if (st == REPRO_OK)
        st = repro_optim_hash(t->optim, optim_hex, err);
    if (st == REPRO_OK) /* every rank resumes from the same state */
        st = repro_world_agree(t->world, "resumed parameters", params_hex, 64, err);
    if (st == REPRO_OK && t->writer) {
        repro_resume_point rp = {s, t->steps_per_epoch, t->total_steps, params_hex, optim_hex};
        st = repro_resume_check_logs(dir, &rp, err);
    }
    if (st == REPRO_OK && t->writer)
        st = repro_run_resume(dir, s->step, s->epoch, &t->run, err);
    if (st == REPRO_OK && t->writer) /* run.json is rank 0's */
        st = repro_resume_record(t->run, s->step, res->resumed_from, t->opts->resume_changes, err);
    return st;
}

repro_status repro_train(const repro_config *cfg, const repro_train_options *opts,
                         repro_train_result *res, repro_error *err)
{
    return repro_train_hooked(cfg, opts, NULL, res, err);
}

repro_status repro_train_hooked(const repro_config *cfg, const repro_train_options *opts,
                                const repro_test_hooks *hooks, repro_train_result *res, repro_error *err)
{
    trainer t;
    memset(&t, 0, sizeof t);
    memset(res, 0, sizeof *res);
    t.cfg = cfg;
    t.opts = opts;
    if (hooks)
        t.hooks = *hooks;
    repro_train_state s = {0};
    repro_status st = repro_world_open(opts->local_world, &t.world, err);
    t.writer = repro_world_rank(t.world) == 0;
    if (st == REPRO_OK)
        st = repro_determinism_check(cfg, opts, err);
    if (st == REPRO_OK)
        st = repro_isa_choose(opts->isa, &t.isa, err);
    if (st == REPRO_OK && cfg->device == REPRO_DEVICE_CUDA)
        st = repro_backend_create_cuda(cfg->mode == REPRO_MODE_FAST, cfg->allow_tf32, &t.be, err);
    else if (st == REPRO_OK)
        st = repro_backend_create_cpu(t.isa, repro_config_threads(cfg), &t.be, err);
    if (st == REPRO_OK && cfg->precision == REPRO_PRECISION_BF16)
        st = repro_backend_use_bf16(t.be, err);

    if (st == REPRO_OK)
        st = config_hash(cfg, t.config_sha256, err);
    if (st == REPRO_OK && opts->resume_dir && opts->resume_config_sha256) /* the run's identity, unchanged */
        snprintf(t.config_sha256, sizeof t.config_sha256, "%s", opts->resume_config_sha256);
    if (st == REPRO_OK)
        st = load_data(&t, err);
    if (st == REPRO_OK)
        st = check_memory(&t, err);
    if (st == REPRO_OK)
        st = build_model(&t, err);
    if (st == REPRO_OK)
        st = setup_world(&t, err);
    if (st == REPRO_OK) /* every rank runs the same config */
        st = repro_world_agree(t.world, "config", t.config_sha256, 64, err);
    if (st == REPRO_OK && opts->resume_dir)
        st = resume(&t, &s, res, err);
    else if (st == REPRO_OK && t.writer)
        st = repro_record_start(&t.run, cfg, opts, &t.hooks, repro_isa_name(t.isa), t.n_train, t.n_val, t.test.n,
                                repro_model_n_params(t.model), err);
    if (st == REPRO_OK && !opts->resume_dir && t.writer)
        st = record_backend(&t, err);
    if (st == REPRO_OK && !opts->resume_dir && t.train.tokens && t.run)
        st = repro_record_vocab(t.run, t.train.vocab, t.train.n_vocab,
                                t.train.padded ? REPRO_TEXT_PAD_ID : -1, err);
    if (st == REPRO_OK && t.shard) /* every rank: a collective */
        st = record_world(&t, err);
    res->world_rank = repro_world_rank(t.world);
    res->world_size = repro_world_size(t.world);
    if (t.run || (!t.writer && st == REPRO_OK)) { /* from here every path ends the run with its status */
        if (t.run)
            snprintf(res->run_dir, sizeof res->run_dir, "%s", repro_run_dir(t.run));
        t.t_start = now_sec();
        t.ckpt_sec = t.t_start;
        char stopped[128] = "";
        if (st == REPRO_OK && opts->trace_dir) /* after the run directory, which may hold it */
            st = repro_trace_open(opts->trace_dir, opts->trace_first, opts->trace_last, &t.trace, err);
        if (st == REPRO_OK)
            st = train_epochs(&t, &s, stopped, sizeof stopped, err);
        repro_trace *trace = t.trace;
        t.trace = NULL;
        if (st == REPRO_OK)
            st = repro_trace_close(trace, err);
        else
            repro_trace_close(trace, NULL);
        if (st == REPRO_OK && stopped[0]) {
            res->interrupted = 1;
            res->steps = s.step;
            res->epochs_run = (int)s.epoch;
        } else if (st == REPRO_OK) {
            st = finish(&t, &s, res, err);
        }
        repro_error ferr;
        const char *status = st != REPRO_OK ? "failed" : stopped[0] ? "interrupted" : "complete";
        repro_status fst = !t.run ? REPRO_OK : repro_run_finish(t.run, status,
                                            st != REPRO_OK ? err->message : stopped[0] ? stopped : NULL, &ferr);
        if (fst != REPRO_OK)
            snprintf(res->record_error, sizeof res->record_error, "%s", ferr.message);
        if (st == REPRO_OK && fst != REPRO_OK) {
            st = fst;
            *err = ferr;
        }
    }
    trainer_free(&t);
    repro_world_close(t.world, st != REPRO_OK, err->message);
    return st;
}
