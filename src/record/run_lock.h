/* DIR/run.lock: the lock a live run holds, the mark of a run directory,
 * the status of last resort and the room to write it.
 *
 * A run (new or resumed) takes an exclusive flock() on DIR/run.lock for its
 * whole life; the kernel drops it when the process ends, however it ends.
 * So a second `repro train --out DIR --force` or `--resume DIR` can tell a
 * live run from a dead one without trusting run.json's pid and hostname.
 *
 * The file starts with a fixed slot of RUN_LOCK_SLOT bytes of text:
 *     repro-run-lock/1
 *     pid=<pid>
 *     host=<hostname>
 *     status=running|failed
 *     message=<why, on one line>
 * padded with spaces, then RUN_LOCK_RESERVE bytes allocated on the disk.
 * When the disk fills and run.json cannot be rewritten at the end of a run,
 * the reserve is given back (the file is cut to the slot) and the write
 * tried again; if that fails too, the slot is overwritten in place (no new
 * blocks needed) with status=failed and the message, which the next repro
 * command reads (repro_run_stale_note). A run that ends gives the room
 * back (the file keeps its slot); only a killed run's lock keeps it. */
#ifndef REPRO_RECORD_RUN_LOCK_H
#define REPRO_RECORD_RUN_LOCK_H

#include <stddef.h>

#include "repro/status.h"

enum { RUN_LOCK_SLOT = 512, RUN_LOCK_RESERVE = 256 * 1024 };

/* Opens (creating it when absent: *created = 1) and locks DIR/run.lock,
 * changing nothing in it. *fd >= 0 on success. When another process holds
 * it: REPRO_ERR_STATE with *holder its pid (0 when unknown) and err unset;
 * the caller says why that matters. */
repro_status run_lock_take(const char *dir, int *fd, int *created, long *holder, repro_error *err);

/* Once the run goes ahead: writes the slot (this pid, status=running) and
 * reserves the room; fails when the disk has no room for it. */
repro_status run_lock_mark(int fd, const char *dir, repro_error *err);

/* Overwrites the slot in place with status and message, and syncs it. 0 on
 * success. */
int run_lock_note(int fd, const char *status, const char *message);

/* Gives the reserved room back to the file system. */
void run_lock_release_reserve(int fd);

/* Reads DIR/run.lock's slot: whether a live process holds it (*live), the
 * pid and the status and message it last recorded. 0 when the file exists
 * and reads as a slot. */
int run_lock_read(const char *dir, int *live, long *pid, char *status, size_t status_size, char *message,
                  size_t message_size);

#endif
