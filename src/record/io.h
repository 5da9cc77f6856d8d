/* The system calls and allocations of the run-directory and checkpoint I/O
 * layer (atomic files, run.json, the ledger and metrics, run.lock,
 * safetensors and checkpoints), made through these names so that a test
 * build can make any one of them fail.
 *
 * In a normal build they ARE the C library's functions (macros, no cost).
 * In a build configured with -DREPRO_FAULT_INJECTION=ON (tests only, never
 * installed: this header is not public) they count every call and fail the
 * one the environment variable REPRO_FAULT names (src/record/fault.c,
 * docs/reproducibility.md "Fault injection"): the way SQLite tests every
 * I/O error path. */
#ifndef REPRO_RECORD_IO_H
#define REPRO_RECORD_IO_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#include <stdio.h>

#ifdef REPRO_FAULT_INJECTION
ssize_t repro_io_write(int fd, const void *buf, size_t n);
ssize_t repro_io_pwrite(int fd, const void *buf, size_t n, off_t offset);
int repro_io_fsync(int fd);
int repro_io_rename(const char *from, const char *to);
void *repro_io_malloc(size_t n);
void *repro_io_calloc(size_t n, size_t size);
void *repro_io_realloc(void *p, size_t n);
char *repro_io_strdup(const char *s);
#else
#define repro_io_write write
#define repro_io_pwrite pwrite
#define repro_io_fsync fsync
#define repro_io_rename rename
#define repro_io_malloc malloc
#define repro_io_calloc calloc
#define repro_io_realloc realloc
#define repro_io_strdup strdup
#endif

#endif
