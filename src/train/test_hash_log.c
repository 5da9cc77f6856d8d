/* REPRO_TEST_HASH_LOG (tests only): which data files were read in full to
 * hash them, so a test can tell a hash cache hit from a miss without
 * tracing system calls. */
#include <stdio.h>

#include "train/test_hooks.h"

void repro_test_hash_log(const char *log, const char *path)
{
    FILE *f = fopen(log, "a");
    if (!f)
        return;
    fprintf(f, "%s\n", path);
    fclose(f);
}
