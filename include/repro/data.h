/* repro/data.h: data sets in memory, the readers that fill them, the seeded
 * train/validation split, and batch gathering.
 *
 * The pieces are kept apart so a threaded loader can sit between them:
 *   readers (IDX, CSV)   -> a repro_dataset (every sample in memory)
 *   reader (NPY)         -> a repro_dataset whose features stay in a mapping
 *   split (and samplers) -> lists of sample indices
 *   gather               -> copies the rows of an index list into a batch
 * Nothing here keeps state between calls; the split is a pure function of
 * (seed, n, val_fraction). Formats, options and errors: docs/data.md. */
#ifndef REPRO_DATA_H
#define REPRO_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "repro/config.h"
#include "repro/npy.h"
#include "repro/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Features kept as stored elements instead of floats in x: in a read-only
 * file mapping (NPY), or IDX images' bytes in a read-only anonymous mapping
 * (path empty). Row i is n_features elements of `dtype` at data + i *
 * row_bytes, converted to float only when gathered (repro_npy_convert_row:
 * float32 as is, float64 rounded to nearest, integers (float)v * scale). */
typedef struct repro_mapped_features {
    const unsigned char *data; /* [n][n_features] of dtype, inside map */
    size_t row_bytes;          /* n_features * element size */
    repro_npy_dtype dtype;
    float scale;               /* integer dtypes only: x = (float)v * scale */
    void *map;                 /* the whole mapping, owned (munmap'd by free) */
    size_t map_bytes;
    /* the file, as it was when mapped: a change under the run is an error
     * (repro_dataset_gather_checked, repro_dataset_check_unchanged); path
     * empty when the mapping holds no file */
    char path[1024];
    uint64_t dev, ino;
    int64_t size, mtime_ns;
} repro_mapped_features;

/* A data set. Features are either floats in memory (x) or stored elements
 * (x == NULL and mapped.data != NULL: NPY files, IDX images); read them only
 * through repro_dataset_gather, which handles both. */
typedef struct repro_dataset {
    int64_t n;          /* samples */
    int64_t n_features;
    float *x;           /* [n][n_features], row-major, owned; NULL when in `mapped` */
    repro_mapped_features mapped; /* all zero unless the features are mapped */
    int64_t image_h, image_w; /* images: n_features = image_h * image_w; else 0, 0 */
    int32_t *label;     /* [n] class labels in [0, n_classes), or NULL, owned */
    int32_t n_classes;  /* 0 when there are no labels */
    int64_t n_targets;
    float *y;           /* [n][n_targets] regression targets, or NULL, owned */
    /* text (data.format: text): the corpus as token ids, and its vocabulary.
       Sample i is the window starting at token i: gathered, its features are
       tokens[i, i + context) and its targets tokens[i + 1, i + context + 1),
       both float-coded (exact: ids < 2^24); n = n_tokens - context,
       n_features = n_targets = context, n_classes = n_vocab. x, y, label are NULL. */
    int32_t *tokens;    /* [n_tokens], owned */
    int64_t n_tokens, context;
    uint32_t *vocab;    /* [n_vocab] the code points, ascending; token id = index, owned */
    int32_t n_vocab;
    /* text_samples documents: sample i is the row tokens[i * (context + 1),
       (i + 1) * (context + 1)) (x its first context tokens, y its last),
       padded with token REPRO_TEXT_PAD_ID = 0, whose vocab entry is U+0000
       (never a text character); n = the rows. */
    bool padded;
} repro_dataset;

/* Frees the buffers, unmaps mapped features and zeroes the struct. NULL-safe. */
void repro_dataset_free(repro_dataset *ds);

/* Loads the training set and, if configured, the test set, as cfg says.
 *   idx: train_images/train_labels (and test_images/test_labels), plain or
 *        gzip. The pixels' bytes are kept (mapped, dtype uint8) and
 *        gathered as (float)pixel * scale; n_features = rows * cols.
 *   csv: train_csv (and test_csv); columns chosen by header name, see
 *        repro_csv_read.
 *   npy: train_x/train_y (and test_x/test_y), see repro_npy_read_set;
 *        the features stay mapped, y_is_label says what y holds.
 * limit_train / limit_test keep the first N samples (0 = all).
 * n_classes = cfg->n_classes, or else max label + 1 over train and test;
 * with cfg->n_classes set, a label >= n_classes is an error.
 * test may be NULL; with no test paths configured *test is zeroed (n = 0).
 * On failure both outputs are zeroed and nothing is left allocated. */
repro_status repro_data_load(const repro_data_config *cfg, repro_dataset *train,
                             repro_dataset *test, repro_error *err);

/* IDX images: uint8 (magic 0x00000803), dims n x rows x cols, plain or gzip.
 * Keeps the first min(limit, n) images (limit 0 = all) but reads the whole
 * file, so a truncated or corrupt file is an error whatever the limit.
 * *x: [*n][*n_features], malloc'd, caller frees. */
repro_status repro_idx_read_images(const char *path, float scale, int64_t limit, float **x,
                                   int64_t *n, int64_t *n_features, repro_error *err);

/* IDX labels: uint8 (magic 0x00000801), dims n. *labels: [*n], caller frees. */
repro_status repro_idx_read_labels(const char *path, int64_t limit, int32_t **labels, int64_t *n,
                                   repro_error *err);

/* A CSV file (plain or gzip) into out. Uses cfg's header, feature_columns,
 * label_column, target_columns and n_classes. Without a header row the
 * columns are named by their 0-based position: "0", "1", ...
 * Keeps the first `limit` data rows (0 = all). */
repro_status repro_csv_read(const char *path, const repro_data_config *cfg, int64_t limit,
                            repro_dataset *out, repro_error *err);

/* NPY features x_path ([n][d], or [n][h][w] images: image_h = h, image_w = w,
 * n_features = h * w) of any repro_npy_dtype, kept mapped, and y_path
 * (NULL or "" for none) loaded into memory:
 *   y_is_label: labels of shape [n], an integer dtype or floats with integer
 *               values, each in [0, 2^31 - 1); out->n_classes = max + 1;
 *   else:       float32/float64 targets of shape [n] or [n][t], finite.
 * Integer features are (float)v * scale; float features ignore scale.
 * Keeps the first min(limit, n) samples (limit 0 = all), without copying;
 * the counts of both files' headers must agree whatever the limit. */
repro_status repro_npy_read_set(const char *x_path, const char *y_path, bool y_is_label,
                                float scale, int64_t limit, repro_dataset *out, repro_error *err);

/* data.format text: every file the path or glob `pattern` names (matches
 * in sorted order, concatenated), UTF-8 decoded strictly; the vocabulary is
 * the sorted unique code points; see repro_dataset's text fields. Errors:
 * no file matches, an empty file, invalid UTF-8 (naming the file and byte
 * offset), fewer than context + 1 characters in all. */
repro_status repro_text_read(const char *pattern, int64_t context, int64_t limit, repro_dataset *out,
                             repro_error *err);

/* data.text_samples documents: the same files, each split into documents
 * at the lines whose text is `separator` ("" = blank lines), each document
 * cut into chunks [c * context, c * context + context + 1) padded to
 * context + 1 with token 0 (docs/data.md "Text"); documents of fewer than 2
 * characters are skipped. out->padded is set, vocab[0] is the pad (U+0000).
 * Errors as repro_text_read's, and no document at all. */
repro_status repro_text_read_documents(const char *pattern, const char *separator, int64_t context, int64_t limit,
                                       repro_dataset *out, repro_error *err);

/* Decodes UTF-8 text [0, len) into code points (*out malloc'd, *n of them);
 * REPRO_ERR_FORMAT "'<name>': invalid UTF-8 at byte <offset>: <why>" on an
 * ill-formed sequence (overlong forms, surrogates, > U+10FFFF, truncation). */
repro_status repro_utf8_decode(const char *name, const unsigned char *s, size_t len, uint32_t **out, int64_t *n,
                               repro_error *err);

/* Encodes one code point as UTF-8 into out (4 bytes room); returns the byte count. */
int repro_utf8_encode(uint32_t cp, char *out);

/* vocab.json: {"kind": "characters", "size": N, "tokens": ["a", "b", ...]},
 * token i the code point vocab[i], written as JSON strings (cJSON escaping).
 * pad_id >= 0 (REPRO_TEXT_PAD_ID, documents) adds "pad_id": pad_id before
 * "tokens" and writes that token as null; -1: no pad, the file as before.
 * malloc'd text, caller frees; NULL when out of memory. */
char *repro_vocab_json(const uint32_t *vocab, int32_t n, int32_t pad_id);

/* Reads vocab.json text back: *vocab malloc'd, ascending, unique; *pad_id
 * the file's "pad_id" (only 0 is valid: its token null, read as U+0000) or
 * -1 without one. REPRO_ERR_FORMAT naming `name` when it is not such a file. */
repro_status repro_vocab_parse(const char *name, const char *json, uint32_t **vocab, int32_t *n, int32_t *pad_id,
                               repro_error *err);

/* The seeded train/validation split of samples [0, n):
 *   n_val = (int64_t)floor((double)n * (double)val_fraction)
 *   perm  = repro_rng_permutation(repro_rng_derive(seed, REPRO_RNG_SPLIT, 0, 0), n)
 *   val   = perm[0, n_val) sorted ascending, train = perm[n_val, n) sorted ascending.
 * val_fraction in [0, 1); n in [1, 2^32 - 1]. Both lists are malloc'd and
 * never NULL on success (even when empty); the caller frees both. */
repro_status repro_data_split(uint64_t seed, int64_t n, float val_fraction, uint32_t **train_idx,
                              int64_t *n_train, uint32_t **val_idx, int64_t *n_val,
                              repro_error *err);

/* Copies rows idx[0, count) of ds into x [count][n_features] (converting
 * mapped features to float, see repro_mapped_features),
 * label [count] and y [count][n_targets]; any of them may be NULL to skip
 * (label and y need ds->label and ds->y). Every idx[i] must be < ds->n. */
void repro_dataset_gather(const repro_dataset *ds, const uint32_t *idx, int64_t count, float *x,
                          int32_t *label, float *y);

/* The same, safe against a mapped file cut short under the mapping (which
 * raises SIGBUS in repro_dataset_gather): REPRO_ERR_IO naming the file
 * ("'F' changed on disk while training ...") instead of a dead process.
 * The training loader and evaluation read through this one. */
repro_status repro_dataset_gather_checked(const repro_dataset *ds, const uint32_t *idx, int64_t count, float *x,
                                          int32_t *label, float *y, repro_error *err);

/* The features of rows [first, first + count) as floats, x [count][n_features]
 * (what a gather of those rows gives): for hashing, copying or uploading a
 * whole set a block at a time. Fails as repro_dataset_gather_checked. */
repro_status repro_dataset_read_rows(const repro_dataset *ds, int64_t first, int64_t count, float *x,
                                    repro_error *err);

/* For mapped features: REPRO_ERR_IO when the file is no longer the one
 * mapped, as it was (another file at the path, or its size or modification
 * time changed): a run must not go on, or record steps, with other data
 * than it started with. REPRO_OK for features in memory. */
repro_status repro_dataset_check_unchanged(const repro_dataset *ds, repro_error *err);


/* ---- Data given in memory (data.format: memory) ---------------------------
 * A caller that already holds its data (the Python package's
 * repro.Dataset.from_arrays) gives it as arrays instead of files. The run
 * record then holds each set's repro_dataset_sha256 where a file's SHA-256
 * would be, so the same arrays are provably the same data. */

/* Arrays of one data set, all row-major and C-contiguous. */
typedef struct repro_array_set {
    const float *x;          /* [n][n_features] float32 features */
    int64_t n, n_features;
    int64_t image_h, image_w; /* images: image_h * image_w == n_features; else 0, 0 */
    const int32_t *label;    /* [n] class labels >= 0, or NULL */
    int32_t n_classes;       /* labels: 0 = max label + 1; else every label must be below it */
    const float *y;          /* [n][n_targets] float32 regression targets, or NULL */
    int64_t n_targets;       /* 0 when y is NULL */
} repro_array_set;

/* Copies the arrays into out (which then owns them; repro_dataset_free).
 * Refuses (REPRO_ERR_ARG, naming the sample and column) n < 1, no features,
 * an image shape that is not n_features, a NaN or infinite feature or
 * target, a negative label or one >= n_classes, and both or neither of
 * label and y. On failure out is zeroed. */
repro_status repro_dataset_from_arrays(const repro_array_set *a, repro_dataset *out, repro_error *err);

/* SHA-256 (hex) of a data set's contents: the line
 * "repro-dataset-v1 n=N features=F image=HxW classes=C targets=T\n" then the
 * features as float32, the labels as int32 and the targets as float32, each
 * array whole in row-major order, little-endian (the byte order of every
 * supported host). Mapped features are converted to float first, as
 * training sees them. */
repro_status repro_dataset_sha256(const repro_dataset *ds, char hex[65], repro_error *err);


#ifdef __cplusplus
}
#endif
#endif
