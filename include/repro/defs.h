/* repro/defs.h: macros shared by host C and CUDA C.
 *
 * REPRO_HD marks a function that compiles for both the host and the device,
 * so the same source text (and so the same arithmetic) runs on each. */
#ifndef REPRO_DEFS_H
#define REPRO_DEFS_H

#ifdef __CUDACC__
#define REPRO_HD __host__ __device__
#else
#define REPRO_HD
#endif

#define REPRO_INLINE static inline

#endif
