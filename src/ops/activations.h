/* The elementwise activations, as the kernels see them: an enum and three
 * dispatchers, all made from the ACTIVATION rows of repro/layer_kinds.h.
 * The CPU kernel (cpu/activation.c) and the CUDA kernel (cuda/activation.cu)
 * are written once over these, so an activation is its formula in
 * ops_math.h and its row, nothing else. */
#ifndef REPRO_OPS_ACTIVATIONS_H
#define REPRO_OPS_ACTIVATIONS_H

#include "ops/ops_math.h"
#include "repro/layer_kinds.h"

/* Expands a row of repro/layer_kinds.h to nothing: the LAYER rows, when only
 * the activations are wanted. */
#define REPRO_SKIP_ROW_(...)

#define REPRO_ACT_ENUM_(ID, ...) REPRO_ACT_##ID,
typedef enum repro_act { REPRO_LAYER_KINDS(REPRO_SKIP_ROW_, REPRO_ACT_ENUM_, REPRO_SKIP_ROW_) REPRO_ACT_COUNT } repro_act;

/* What the backward reads: the forward's input x or its output y. */
#define REPRO_ACT_READS_INPUT 0
#define REPRO_ACT_READS_OUTPUT 1

/* y = the activation of x (ops_math.h's repro_<name>_f). A switch on a
 * constant (the CUDA kernel's template argument) folds to the one formula. */
#define REPRO_ACT_F_(ID, name, ...)                                                                \
    case REPRO_ACT_##ID: return repro_##name##_f(x);
REPRO_HD REPRO_INLINE float repro_act_f(repro_act act, float x)
{
    switch (act) {
        REPRO_LAYER_KINDS(REPRO_SKIP_ROW_, REPRO_ACT_F_, REPRO_SKIP_ROW_)
    default: return x;
    }
}

/* dx = dy times the derivative, from the saved input or output
 * (ops_math.h's repro_<name>_df) */
#define REPRO_ACT_DF_(ID, name, ...)                                                               \
    case REPRO_ACT_##ID: return repro_##name##_df(dy, saved);
REPRO_HD REPRO_INLINE float repro_act_df(repro_act act, float dy, float saved)
{
    switch (act) {
        REPRO_LAYER_KINDS(REPRO_SKIP_ROW_, REPRO_ACT_DF_, REPRO_SKIP_ROW_)
    default: return dy;
    }
}

/* 1 when the backward reads the forward's output y, 0 when its input x */
#define REPRO_ACT_READS_(ID, name, reads, ...)                                                     \
    case REPRO_ACT_##ID: return REPRO_ACT_READS_##reads;
REPRO_HD REPRO_INLINE int repro_act_reads_output(repro_act act)
{
    switch (act) {
        REPRO_LAYER_KINDS(REPRO_SKIP_ROW_, REPRO_ACT_READS_, REPRO_SKIP_ROW_)
    default: return 0;
    }
}

/* "relu", "gelu", ...: the config's name, for messages and tests */
#define REPRO_ACT_NAME_(ID, name, ...) #name,
REPRO_INLINE const char *repro_act_name(repro_act act)
{
    static const char *const names[] = {REPRO_LAYER_KINDS(REPRO_SKIP_ROW_, REPRO_ACT_NAME_, REPRO_SKIP_ROW_) "?"};
    return (unsigned)act < REPRO_ACT_COUNT ? names[act] : names[REPRO_ACT_COUNT];
}

#endif
