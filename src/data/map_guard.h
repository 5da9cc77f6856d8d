/* Reading a file mapping that may shrink under us.
 *
 * A page of a MAP_SHARED mapping past the end of its file (someone cut the
 * file short: `np.save` over the same path truncates it first) raises
 * SIGBUS on access, which kills the process. The copies out of a mapping
 * are made under a guard instead: a SIGBUS handler (installed once, on the
 * first guarded copy) jumps back to the guarded call, which returns an
 * error naming the file. A SIGBUS outside a guarded copy is handed to the
 * handler that was there before (the default: death), as if we had none. */
#ifndef REPRO_DATA_MAP_GUARD_H
#define REPRO_DATA_MAP_GUARD_H

#include <stddef.h>

/* Runs copy(ctx) under the guard: 0 when it finished, -1 when it touched a
 * page the file no longer has (the copy is then incomplete). Thread-safe:
 * each thread has its own guard. */
int repro_map_guarded(void (*copy)(void *ctx), void *ctx);

#endif
