/* Training from C: load a config, override a key, train, print the result.
 *
 *   cc -std=c11 examples/train_from_c.c $(pkg-config --cflags --libs --static repro) -o train_from_c
 *   ./train_from_c examples/fashion_mlp.yaml runs/from-c
 */
#include <repro/repro.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s CONFIG RUN_DIR\n", argv[0]);
        return 2;
    }
    repro_config *cfg = malloc(sizeof *cfg);
    repro_error err;
    const char *overrides[] = {"max_steps=20", "data.limit_train=2000", "data.limit_test=200"};
    if (!cfg || repro_config_load(argv[1], overrides, 3, cfg, &err) != REPRO_OK) {
        fprintf(stderr, "%s\n", cfg ? err.message : "out of memory");
        free(cfg);
        return 2;
    }
    repro_train_options opts = {.out_dir = argv[2], .force = 1};
    repro_train_result res;
    repro_status st = repro_train(cfg, &opts, &res, &err);
    free(cfg);
    if (st != REPRO_OK) {
        fprintf(stderr, "training failed (%s): %s\n", repro_status_name(st), err.message);
        return 1;
    }
    printf("%lld steps, params_sha256 %s\n", (long long)res.steps, res.params_sha256);
    return 0;
}
