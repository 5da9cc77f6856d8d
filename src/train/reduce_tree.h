/* The fixed binary tree that adds the shards' gradients (docs/parallel.md).
 *
 * Node [lo, hi) of shards is a leaf when hi - lo == 1; otherwise its left
 * child holds the largest power of two of shards below hi - lo:
 *   [0,12) = [0,8) + [8,12),  [0,6) = [0,4) + [4,6),  [0,3) = [0,2) + [2,3).
 * Every element of a node is left + right, one IEEE add, so the sum is a
 * pure function of the leaves whoever computes which node. A process that
 * owns shards [a, b) computes its frontier (the maximal nodes inside
 * [a, b)) and sends those; every process then evaluates the root from the
 * frontiers of all, in the same order. */
#ifndef REPRO_TRAIN_REDUCE_TREE_H
#define REPRO_TRAIN_REDUCE_TREE_H

#include <stdint.h>

#include "backend/backend.h"
#include "repro/status.h"

/* The left child's end of node [lo, hi) (hi - lo >= 2). */
int repro_tree_split(int lo, int hi);

/* The frontier of block [a, b) of a tree over [0, shards): its maximal
 * nodes, left to right, as nodes[i][0..1] = lo, hi. Returns their count
 * (at most 2 * log2(shards) + 2; never more than cap are written). */
int repro_tree_frontier(int shards, int a, int b, int (*nodes)[2], int cap);

/* A known node's values (n floats), or NULL when it must be computed from
 * its children. Leaves must be known. */
typedef const float *(*repro_tree_lookup)(void *ctx, int lo, int hi);

/* Levels of scratch repro_tree_sum needs for a tree over `shards`. */
int repro_tree_depth(int shards);

/* out[n] = node [lo, hi), its unknown nodes computed as left + right
 * (element by element: repro_be_add_inplace, one IEEE add, on the
 * backend's memory, the host's or a GPU's). scratch: [repro_tree_depth(hi
 * - lo)][n]; known values, out and scratch all in be's memory. */
repro_status repro_tree_sum(const repro_backend *be, int lo, int hi, repro_tree_lookup lookup, void *ctx, float *out,
                            float *scratch, int64_t n, repro_error *err);

#endif
