/* libFuzzer: the readers of run.json: repro_json_read_file, what
 * `repro diff` compares (repro_run_compare, both ways, against a whole run),
 * what a new run checks of an existing directory (repro_run_create: status,
 * pid, hostname), what a resume reads (repro_run_resume) and the note for
 * a run left "running" (repro_run_stale_note). Input: DIR/run.json, beside
 * a fixed two-line ledger. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "repro/record.h"

static char base[512];
static const char ledger[] =
    "{\"step\":1,\"epoch\":0,\"loss\":\"0x3fc00000\",\"loss_dec\":\"1.5\",\"lr\":\"0x3a83126f\"}\n"
    "{\"step\":2,\"epoch\":0,\"loss\":\"0x3f800000\",\"loss_dec\":\"1\",\"lr\":\"0x3a83126f\","
    "\"params_sha256\":\"0000000000000000000000000000000000000000000000000000000000000000\","
    "\"optim_sha256\":\"1111111111111111111111111111111111111111111111111111111111111111\"}\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* the whole run diff compares against */
    repro_error err;
    repro_run *run;
    fuzz_path(base, sizeof base, "base");
    if (repro_run_create(base, 1, &run, &err) != REPRO_OK) {
        fprintf(stderr, "fuzz_runjson: %s\n", err.message);
        exit(1);
    }
    repro_run_set_json(run, "config", cJSON_Parse("{\"seed\":1}"), &err);
    repro_run_set_json(run, "params_sha256",
                       cJSON_CreateString("0000000000000000000000000000000000000000000000000000000000000000"), &err);
    repro_run_finish(run, "complete", NULL, &err);
    fuzz_write("base/ledger.jsonl", ledger, sizeof ledger - 1, NULL, 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512], dir[512], note[2048];
    fuzz_path(dir, sizeof dir, "rj");
    fuzz_clear(dir);
    fuzz_write("rj/run.json", data, size, path, sizeof path);
    fuzz_write("rj/ledger.jsonl", ledger, sizeof ledger - 1, NULL, 0);
    fuzz_write("rj/metrics.jsonl", "", 0, NULL, 0);
    repro_error err;
    cJSON *json, *report;
    if (repro_json_read_file(path, &json, &err) == REPRO_OK)
        cJSON_Delete(json);
    repro_run_stale_note(dir, note, sizeof note);
    if (repro_run_compare(dir, base, &report, &err) == REPRO_OK)
        cJSON_Delete(report);
    if (repro_run_compare(base, dir, &report, &err) == REPRO_OK)
        cJSON_Delete(report);
    repro_run *run;
    if (repro_run_resume(dir, 2, 0, &run, &err) == REPRO_OK)
        repro_run_finish(run, "interrupted", "fuzz", &err);
    fuzz_write("rj/run.json", data, size, NULL, 0);
    if (repro_run_create(dir, 0, &run, &err) == REPRO_OK)
        repro_run_finish(run, "failed", "fuzz", &err);
    return 0;
}
