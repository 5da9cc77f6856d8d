/* Shared by the libFuzzer harnesses of fuzz/ (built with -DREPRO_FUZZ=ON and
 * clang, `make fuzz`): the readers under test take paths, so each input is
 * written to a file in a scratch directory of this process first. */
#ifndef REPRO_FUZZ_UTIL_H
#define REPRO_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* A scratch directory of this process (created once, on tmpfs when there is
 * one), and a file name inside it. */
const char *fuzz_dir(void);
void fuzz_path(char *buf, size_t size, const char *name);

/* Writes n bytes to fuzz_dir()/name (replacing it); path receives the full
 * path when not NULL. Aborts on an I/O error: that is the harness's fault. */
void fuzz_write(const char *name, const void *data, size_t n, char *path, size_t path_size);

/* Removes every file in directory dir (not recursive). */
void fuzz_clear(const char *dir);

#endif
