/* Reading plain or gzip files through zlib, with errors that name the file.
 *
 * gzopen reads a file that is not gzip "transparently", so every reader here
 * accepts both forms. gzread's own return value cannot tell a truncated or
 * corrupt stream from the end of the data, so every short read is checked
 * against gzerror. Internal to src/data. */
#ifndef REPRO_DATA_GZIO_H
#define REPRO_DATA_GZIO_H

#include <stddef.h>
#include <zlib.h>

#include "repro/status.h"

/* Opens path for reading. */
repro_status repro_gz_open(const char *path, gzFile *out, repro_error *err);

/* Reads up to len bytes into buf; *got < len only at the end of the data.
 * A damaged stream (bad deflate data, wrong CRC or length, cut short) or a
 * read error is an error naming path. */
repro_status repro_gz_read(gzFile f, const char *path, void *buf, size_t len, size_t *got,
                           repro_error *err);

/* Reads the whole file into a malloc'd buffer with a '\0' after the data
 * (*len excludes it). */
repro_status repro_gz_read_all(const char *path, char **buf, size_t *len, repro_error *err);

#endif
