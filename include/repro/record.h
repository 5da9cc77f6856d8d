/* repro/record.h: what a run leaves behind, and the tools that read it back.
 *
 * A run directory runs/<id>/ holds
 *   run.json           the run record: status, times, config, environment, final hashes
 *   ledger.jsonl       one line per step: loss and lr as exact bit patterns, and
 *                      every hash_every steps SHA-256 fingerprints of parameters
 *                      and optimiser state
 *   metrics.jsonl      one free-form JSON object per line (evaluation results ...)
 *   model.safetensors  the final parameters, readable by PyTorch, NumPy and JAX
 * The layout and every field are documented in docs/run-directory.md.
 *
 * Files that must never be seen half-written (run.json, safetensors) are
 * written atomically; the ledger and metrics are appended and flushed a line
 * at a time, so a crash leaves whole lines. */
#ifndef REPRO_RECORD_H
#define REPRO_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "repro/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- SHA-256 (libcrypto EVP) ------------------------------------------ */

typedef struct repro_sha256 repro_sha256; /* an incremental hasher */

/* NULL when out of memory. */
repro_sha256 *repro_sha256_new(void);
void repro_sha256_update(repro_sha256 *h, const void *data, size_t n);
/* Writes the digest as 64 lowercase hex digits + NUL and frees h. */
void repro_sha256_final(repro_sha256 *h, char hex[65]);
void repro_sha256_hex(const void *data, size_t n, char hex[65]);
repro_status repro_sha256_file(const char *path, char hex[65], repro_error *err);

/* repro_sha256_file, remembered: the digest of a data file is kept in a
 * user cache (REPRO_CACHE_DIR, else $XDG_CACHE_HOME/repro, else
 * ~/.cache/repro; under hashes/) keyed by the file's device, inode, size,
 * modification and status-change times (nanoseconds), and the file is read
 * again only when one of them differs, or when rehash is set. An entry
 * that does not parse or whose own checksum fails is ignored; a cache that
 * cannot be written costs only the speed-up. *was_read (may be NULL): 1
 * when the file was read in full now. Limits: docs/data.md, "Data file
 * hashes". */
repro_status repro_sha256_file_cached(const char *path, int rehash, char hex[65], int *was_read,
                                      repro_error *err);

/* ---- Atomic files ------------------------------------------------------ */

/* Writes to PATH.tmp.<pid>, flushes and fsyncs it, renames it over PATH and
 * fsyncs the directory: readers see the old file or the new one, never a
 * mixture. On failure the temporary file is removed and PATH is untouched. */
repro_status repro_write_file_atomic(const char *path, const void *data, size_t n,
                                     repro_error *err);

/* The same, streamed, for files too big to build in memory. open, any
 * number of writes, then commit (which frees w) or abort (which frees w and
 * removes the temporary file). A failed write is remembered and reported by
 * commit, so callers may check only there. */
typedef struct repro_atomic_file repro_atomic_file;
repro_status repro_atomic_open(const char *path, repro_atomic_file **out, repro_error *err);
repro_status repro_atomic_write(repro_atomic_file *w, const void *data, size_t n,
                                repro_error *err);
repro_status repro_atomic_commit(repro_atomic_file *w, repro_error *err);
void repro_atomic_abort(repro_atomic_file *w);

/* ---- safetensors ------------------------------------------------------- */

enum { REPRO_SAFETENSORS_MAX_DIMS = 4 };

/* shape[0..ndim) is row-major; data holds prod(shape) floats (ndim 0: one). */
typedef struct repro_named_tensor {
    const char *name;
    int ndim;
    int64_t shape[REPRO_SAFETENSORS_MAX_DIMS];
    const float *data;
} repro_named_tensor;

/* Writes tensors (dtype F32, little-endian) in the order given with
 * contiguous data offsets, and the string pairs meta_keys[i] = meta_values[i]
 * as "__metadata__". Atomic. Names must be unique, non-empty and not
 * "__metadata__". */
repro_status repro_safetensors_write(const char *path, const repro_named_tensor *tensors, int n,
                                     const char *const *meta_keys,
                                     const char *const *meta_values, int n_meta,
                                     repro_error *err);

/* A whole file loaded and validated: JSON header, dtype F32, shapes of at
 * most REPRO_SAFETENSORS_MAX_DIMS dimensions, offsets in range, contiguous
 * from 0 to the end of the file, sizes matching shapes, string metadata.
 * Tensors are indexed 0..count-1 in the header's order. */
typedef struct repro_safetensors repro_safetensors;

repro_status repro_safetensors_read(const char *path, repro_safetensors **out, repro_error *err);
void repro_safetensors_free(repro_safetensors *st);
int repro_safetensors_count(const repro_safetensors *st);
const char *repro_safetensors_name(const repro_safetensors *st, int i);
int repro_safetensors_ndim(const repro_safetensors *st, int i);
const int64_t *repro_safetensors_shape(const repro_safetensors *st, int i);
int64_t repro_safetensors_numel(const repro_safetensors *st, int i);
const float *repro_safetensors_data(const repro_safetensors *st, int i); /* host order */
int repro_safetensors_find(const repro_safetensors *st, const char *name); /* -1 if absent */
/* The metadata value for key, or NULL. */
const char *repro_safetensors_meta(const repro_safetensors *st, const char *key);
int repro_safetensors_meta_count(const repro_safetensors *st);
const char *repro_safetensors_meta_key(const repro_safetensors *st, int i);
const char *repro_safetensors_meta_value(const repro_safetensors *st, int i);

/* ---- Run directory ----------------------------------------------------- */

/* A run being written. Not thread-safe: call from one thread at a time. */
typedef struct repro_run repro_run;

/* Creates DIR (and its parents) for a new run and writes run.json with
 * "status": "running". An existing DIR is
 *   - refused (REPRO_ERR_STATE) when its run.json says "complete"
 *     ("'DIR' already holds a complete run; use --force to overwrite") or says
 *     "running" for a live process on this host, unless force;
 *   - reused when its run.json says "failed", "interrupted", or "running" for
 *     a process that is gone;
 *   - refused when it is non-empty with no run.json ("'DIR' exists and is
 *     not empty"), unless force.
 * Reusing or forcing removes the files a run writes (run.json, ledger.jsonl,
 * metrics.jsonl, model.safetensors, ckpt-<8 digits>.safetensors and their
 * leftover NAME.tmp.<pid> files) from a directory a run made (it holds
 * run.json or run.lock) and nothing else; --force into a directory no run
 * made writes beside the files there, and refuses when one of them has a
 * run file's name. The run holds an exclusive lock on DIR/run.lock until
 * it is finished (or its process ends): a directory whose lock another
 * process holds is refused, also with force ("'DIR' holds a run in
 * progress (pid N)"). */
repro_status repro_run_create(const char *dir, int force, repro_run **out, repro_error *err);

/* Sets top-level key of run.json to value (replacing any earlier value, in
 * place) and rewrites run.json atomically. Takes ownership of value, also on
 * failure. Keys "format", "status", "start_time", "end_time", "message",
 * "hostname" and "pid" belong to this module and are refused. Sections the trainer is expected to set are
 * listed in docs/run-directory.md ("config", "env", "git", "final", ...). */
repro_status repro_run_set_json(repro_run *run, const char *key, cJSON *value, repro_error *err);

/* Reopens the run in dir to continue it (`repro train --resume`): run.json is
 * read back with its sections, its status set to running (pid and hostname
 * updated; end_time, message and final removed); ledger.jsonl keeps its lines
 * with step <= keep_steps and metrics.jsonl its first keep_metrics lines (a
 * line cut short by a crash is dropped), both then appended to; temporary
 * files a killed process left (NAME.tmp.<pid>) are removed. Refuses a
 * complete run and a run whose process is still alive, and a ledger whose
 * lines 1..keep_steps are not steps 1..keep_steps in order or a metrics
 * file with fewer than keep_metrics lines (REPRO_ERR_STATE, nothing
 * rewritten). */
repro_status repro_run_resume(const char *dir, int64_t keep_steps, int64_t keep_metrics, repro_run **out,
                              repro_error *err);

/* REPRO_ERR_STATE ("'DIR' is still being trained (pid N)...") when a live
 * process holds DIR/run.lock; REPRO_OK otherwise. What a resume checks
 * first, before it reads anything a live run may be writing. */
repro_status repro_run_check_not_live(const char *dir, repro_error *err);

/* A sentence for people when DIR's run.json says "running" but no live
 * process holds the run (DIR/run.lock): either the note its process left in
 * run.lock when it could not rewrite run.json (a full disk: "... noted in
 * run.lock that it failed: <why>"), or that it ended without recording how
 * (killed, crashed). Returns 1 and fills out, or 0 (nothing to explain). */
int repro_run_stale_note(const char *dir, char *out, size_t size);

/* The run record as it stands (owned by run). */
const cJSON *repro_run_record(const repro_run *run);

/* Appends one ledger line with one write; if the line does not go down
 * whole (a full disk), the file is cut back to its previous end and the
 * error returned. params_sha256 / optim_sha256 are 64-hex-digit strings or
 * NULL (a line without fingerprints). */
repro_status repro_run_ledger(repro_run *run, int64_t step, int64_t epoch, float loss, float lr,
                              const char *params_sha256, const char *optim_sha256,
                              repro_error *err);

/* Appends value as one line of metrics.jsonl, whole or not at all (as
 * repro_run_ledger). Takes ownership. */
repro_status repro_run_metrics(repro_run *run, cJSON *line, repro_error *err);

/* The run's directory, as given to repro_run_create. */
const char *repro_run_dir(const repro_run *run);

/* DIR/name into buf; REPRO_ERR_ARG if it does not fit. */
repro_status repro_run_path(const repro_run *run, const char *name, char *buf, size_t size,
                            repro_error *err);

/* Sets "status" ("complete", "failed" or "interrupted"), "end_time" and,
 * when message is non-NULL, "message"; rewrites run.json; closes the ledger
 * and metrics files, releases the lock and frees run (always, also on
 * failure). When run.json cannot be rewritten even after giving back the
 * room run.lock reserved, the status and message are noted in run.lock
 * instead (repro_run_stale_note reads them) and the error says so. */
repro_status repro_run_finish(repro_run *run, const char *status, const char *message,
                              repro_error *err);

/* ---- Reading records back ---------------------------------------------- */

/* Parses a whole JSON file; the error names the file (and the line of a
 * syntax error). The caller deletes *out. */
repro_status repro_json_read_file(const char *path, cJSON **out, repro_error *err);

/* One ledger line. Absent fingerprints are empty strings. */
typedef struct repro_ledger_entry {
    int64_t step, epoch;
    uint32_t loss_bits, lr_bits;
    char params_sha256[65];
    char optim_sha256[65];
    int line; /* 1-based line number in the file */
} repro_ledger_entry;

/* Reads every line of a ledger.jsonl; errors name the file and line. The
 * caller frees *entries with free(). */
repro_status repro_ledger_read(const char *path, repro_ledger_entry **entries, int64_t *count,
                               repro_error *err);

/* As repro_ledger_read, except that a last line without a newline (cut
 * short by a crash while it was written) is no error: it is left out and
 * *cut set to its line number (0 when the file ends with a newline). */
repro_status repro_ledger_read_whole(const char *path, repro_ledger_entry **entries, int64_t *count, int *cut,
                                     repro_error *err);

/* Compares two run directories (what `repro diff` prints). The report is a
 * JSON object, documented in docs/run-directory.md:
 *   "identical": true iff the ledgers have the same length and agree on every
 *      step, epoch, loss, lr and every fingerprint present in both, and the
 *      final params_sha256 values agree;
 *   "record_differences": [{"path","a","b"}] differences between the records'
 *      other sections (config, env, ...), informative only;
 *   "ledger": lengths, prefix relation, first divergent step, first step whose
 *      parameter fingerprint differs, last step whose fingerprints matched;
 *   "final_params_sha256": {"a","b","equal"}.
 * Errors (missing directory, malformed file) name the file and line. */
repro_status repro_run_compare(const char *dir_a, const char *dir_b, cJSON **report,
                               repro_error *err);

/* How one run of `repro verify` compares with its baseline. */
typedef struct repro_verify_outcome {
    int identical;          /* all of repro_run_compare, metrics and model.safetensors agree */
    int64_t first_step;     /* the first ledger step that differs (or is missing); -1 if none */
    char detail[256];       /* what differs, for people; "" when identical */
    char params_sha256[65]; /* the run's final params_sha256; "" when absent */
    char model_sha256[65];  /* SHA-256 of model.safetensors' tensors (names, shapes, data;
                               not the metadata, which names the config); "" when absent */
} repro_verify_outcome;

/* Compares run_dir with base_dir: repro_run_compare's verdict, and also
 * metrics.jsonl line by line (every field but samples_per_sec, a timing)
 * and the tensors of model.safetensors (EMA or best-epoch weights are not
 * in params_sha256). Errors (a missing or malformed file) name the file. */
repro_status repro_verify_compare(const char *base_dir, const char *run_dir, repro_verify_outcome *out,
                                  repro_error *err);

/* The distance between two floats in units in the last place: how many
 * binary32 values lie between them on the number line, counting one end
 * (the difference of their ordered-integer images; +0 and -0 are both 0,
 * so their distance is 0 although their bits differ). UINT64_MAX when
 * either is NaN. */
uint64_t repro_ulp_distance(float a, float b);

/* Compares two trace directories (trace.jsonl + trace.bin, written by
 * `repro train --trace-step`; format in docs/reproducibility.md) line by line, in
 * the order the tensors were computed. The report:
 *   {"a", "b", "identical": bool, "tensors_equal": lines equal before the first difference,
 *    "first_difference": null, or
 *      {"kind": "values", "line", "step", "op", "tensor", "shape", "n",
 *       "index": the first element whose bits differ, "coords": [row, col] (2-D),
 *       "a": {"hex", "dec"}, "b": {...}, "ulps", "elements_differing", "max_ulps"}
 *      {"kind": "structure", "a_place": {...}, "b_place": {...}}  (different tensors at a line)
 *      {"kind": "length", "only_in": "a"|"b", ...place}            (one trace is longer)}
 * Errors (missing or malformed files) name the file and line. */
repro_status repro_trace_compare(const char *dir_a, const char *dir_b, cJSON **report, repro_error *err);

/* ---- Environment ------------------------------------------------------- */

/* What this process runs on and was built with: repro version, commit,
 * compiler, flags and build type; OS, hostname, CPU model, CPU features that
 * select kernels (avx2, fma, avx512f/bw/vl/dq), online CPUs; libc, zlib,
 * libyaml, OpenSSL and cJSON versions; and isa_path, the kernel path the
 * caller selected (NULL: recorded as null). NULL only when out of memory. */
cJSON *repro_env_capture(const char *isa_path);

/* {"commit": "<sha>", "dirty": bool} for the git work tree holding path (a
 * file or a directory), or NULL when it is in none or git is not installed. */
cJSON *repro_git_info(const char *path);

#ifdef __cplusplus
}
#endif
#endif
