/* threads: 0 means the machine's cores (see repro_config_threads). */
#define _GNU_SOURCE
#include <sched.h>
#include <unistd.h>

#include "repro/config.h"

int repro_config_threads(const repro_config *cfg)
{
    if (cfg->threads > 0)
        return cfg->threads;
    cpu_set_t set;
    int n = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        n = CPU_COUNT(&set);
    if (n < 1) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        n = online > 0 ? (int)online : 1;
    }
    return n > 1024 ? 1024 : n; /* the range threads: takes */
}
