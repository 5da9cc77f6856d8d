/* libFuzzer: the ledger and metrics readers: repro_ledger_read (what
 * `repro diff` reads), repro_ledger_read_whole and the checks a resume
 * makes of both files against its checkpoint (train/resume_check.h: steps
 * in order, epochs, the checkpoint step's loss and hashes, the epoch's loss
 * sum, one metrics line per epoch). Input: ledger.jsonl, optionally
 * followed by a NUL byte and metrics.jsonl. The checkpoint: step 4 of 9,
 * 3 steps an epoch. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "repro/record.h"
#include "train/resume_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t ledger_len = nul ? (size_t)(nul - data) : size;
    char path[512], dir[512];
    fuzz_write("lg/ledger.jsonl", data, ledger_len, path, sizeof path);
    static const char metrics[] = "{\"epoch\":1,\"step\":3,\"train_loss\":1.5}\n";
    if (nul)
        fuzz_write("lg/metrics.jsonl", nul + 1, size - ledger_len - 1, NULL, 0);
    else
        fuzz_write("lg/metrics.jsonl", metrics, sizeof metrics - 1, NULL, 0);
    fuzz_path(dir, sizeof dir, "lg");
    repro_error err;
    repro_ledger_entry *e;
    int64_t n;
    int cut;
    if (repro_ledger_read(path, &e, &n, &err) == REPRO_OK)
        free(e);
    if (repro_ledger_read_whole(path, &e, &n, &cut, &err) == REPRO_OK)
        free(e);
    float loss;
    uint32_t bits = 0x3fc00000u; /* 1.5 */
    memcpy(&loss, &bits, 4);
    repro_train_state s = {.step = 4, .epoch = 1, .step_in_epoch = 1, .epoch_loss_sum = loss, .last_loss = loss};
    repro_resume_point p = {&s, 3, 9, "0000000000000000000000000000000000000000000000000000000000000000",
                            "1111111111111111111111111111111111111111111111111111111111111111"};
    repro_resume_check_logs(dir, &p, &err);
    return 0;
}
