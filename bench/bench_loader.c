/* The data loader alone: samples/s of read (gather) + augment + collate for
 * Fashion-MNIST with augmentation (shift, flip, noise, erasing), for 0, 1
 * and 2 workers, batch 256, prefetch 4. bench/run.sh prints it beside the
 * training step loop's samples/s, so one sees whether the loader keeps up.
 *
 * usage: bench_loader [EPOCHS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/augment_isa.h"
#include "repro/isa.h"
#include "repro/augment.h"
#include "repro/config.h"
#include "repro/data.h"
#include "repro/loader.h"
#include "repro/rng.h"

typedef struct aug_ctx {
    const repro_augment_config *cfg;
    const repro_dataset *ds;
    repro_isa isa;
} aug_ctx;

static repro_status augment(void *ctx, uint32_t epoch, uint32_t pos, float *x, int64_t n, repro_error *err)
{
    const aug_ctx *a = ctx;
    return repro_augment_sample_isa(a->cfg, 42, epoch, pos, x, n, a->ds->image_h, a->ds->image_w, a->isa, err);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    int epochs = argc > 1 ? atoi(argv[1]) : 2;
    repro_config *cfg = malloc(sizeof *cfg);
    repro_error err;
    const char *overrides[] = {"augment.shift_p=0.5", "augment.flip_p=0.5", "augment.noise_p=0.5",
                               "augment.erase_p=0.3", "data.limit_test=1"};
    if (!cfg || repro_config_load("examples/fashion_mlp.yaml", overrides, 5, cfg, &err) != REPRO_OK) {
        fprintf(stderr, "bench_loader: %s (run from the repository root)\n", cfg ? err.message : "no memory");
        return 2;
    }
    repro_dataset train, test;
    if (repro_data_load(&cfg->data, &train, &test, &err) != REPRO_OK) {
        fprintf(stderr, "bench_loader: %s\n", err.message);
        return 2;
    }
    uint32_t *rows = malloc((size_t)train.n * sizeof *rows);
    aug_ctx actx = {&cfg->augment, &train, repro_isa_best()};
    printf("loader alone (gather + augment + collate), Fashion-MNIST %lld samples, batch 256, prefetch 4\n",
           (long long)train.n);
    printf("%-8s %14s\n", "workers", "samples/s");
    for (int workers = 0; workers <= 2; workers++) {
        repro_loader_config lc = {.workers = workers, .prefetch = 4};
        repro_loader *l;
        if (repro_loader_create(&lc, &train, 256, augment, &actx, &l, &err) != REPRO_OK) {
            fprintf(stderr, "bench_loader: %s\n", err.message);
            return 2;
        }
        int64_t samples = 0;
        double t0 = now();
        for (int e = 0; e < epochs; e++) {
            repro_rng_epoch_shuffle(42, (uint32_t)e, rows, (uint32_t)train.n);
            if (repro_loader_begin_epoch(l, (uint32_t)e, rows, train.n, 0, 256, 256, &err) != REPRO_OK) {
                fprintf(stderr, "bench_loader: %s\n", err.message);
                return 2;
            }
            for (;;) {
                const repro_batch *b;
                int64_t n, step_size;
                int last;
                if (repro_loader_next(l, &b, &n, &step_size, &last, &err) != REPRO_OK) {
                    fprintf(stderr, "bench_loader: %s\n", err.message);
                    return 2;
                }
                if (!b)
                    break;
                samples += n;
                repro_loader_release(l, b);
            }
        }
        double dt = now() - t0;
        printf("%-8d %14.0f\n", workers, (double)samples / dt);
        repro_loader_destroy(l);
    }
    free(rows);
    repro_dataset_free(&train);
    repro_dataset_free(&test);
    free(cfg);
    return 0;
}
