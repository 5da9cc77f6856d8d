/* repro/npy.h: NumPy .npy files, mapped read-only, never copied whole.
 *
 * A file is opened with repro_npy_open: its header is parsed and checked
 * (versions 1.0, 2.0 and 3.0; little-endian float32, float64, uint8, int32
 * and int64; C order) and the whole file is mapped with mmap(PROT_READ,
 * MAP_SHARED). The data stay in the page cache, where the kernel can drop
 * and re-read them at will, so a file larger than memory can be used, and
 * the mapping does not count against RLIMIT_DATA. Format, errors and
 * memory behaviour: docs/data.md. */
#ifndef REPRO_NPY_H
#define REPRO_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "repro/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The element types repro reads, all little-endian ('|u1' and '<u1' are the
 * same type: numpy writes '|' where byte order does not apply). */
typedef enum repro_npy_dtype {
    REPRO_NPY_F32 = 0, /* '<f4' */
    REPRO_NPY_F64,     /* '<f8' */
    REPRO_NPY_U8,      /* '|u1' or '<u1' */
    REPRO_NPY_I32,     /* '<i4' */
    REPRO_NPY_I64      /* '<i8' */
} repro_npy_dtype;

enum { REPRO_NPY_MAX_DIMS = 8 };

typedef struct repro_npy {
    void *map;                 /* the whole file, mapped read-only; NULL when closed */
    size_t map_bytes;          /* the file's size */
    const unsigned char *data; /* the array: map + header_bytes */
    size_t data_bytes;         /* count * element size, exactly what follows the header */
    size_t header_bytes;       /* magic + version + length field + header text */
    int version;               /* 1, 2 or 3 (the minor version is always 0) */
    repro_npy_dtype dtype;
    int ndim;                  /* 0 for a scalar */
    int64_t shape[REPRO_NPY_MAX_DIMS];
    int64_t count;             /* elements: the product of shape (1 for a scalar) */
} repro_npy;

/* Opens and maps path, checks its header and that the file holds exactly the
 * bytes the header claims. On failure *f is zeroed and nothing stays mapped;
 * every message names the file. */
repro_status repro_npy_open(const char *path, repro_npy *f, repro_error *err);

/* Unmaps and zeroes f. NULL-safe, and safe on a zeroed struct. */
void repro_npy_close(repro_npy *f);

/* The dtype as a header spells it ("<f4", "<f8", "|u1", "<i4", "<i8"), and
 * its size in bytes. */
const char *repro_npy_dtype_descr(repro_npy_dtype dtype);
size_t repro_npy_dtype_size(repro_npy_dtype dtype);

/* Element i of a row of `dtype` elements at src (any alignment) as a float:
 * float32 as is (bit for bit), float64 rounded to nearest, integers
 * converted to float (round to nearest, exact up to 2^24) and then
 * multiplied by scale, one binary32 multiplication. Converts n elements to
 * dst [n]. */
void repro_npy_convert_row(const unsigned char *src, repro_npy_dtype dtype, float scale,
                           int64_t n, float *dst);

#ifdef __cplusplus
}
#endif
#endif
