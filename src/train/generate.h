/* Drawing the next token from a language model's logits (repro sample).
 *
 * A pure function of (logits, temperature, top_k, seed, position): the
 * uniform number is Philox at (seed, REPRO_RNG_GENERATE) element = the
 * drawn token's position in its sequence (prompt characters counted), so a
 * prompt's text does not depend on the thread count, the device, or the
 * other prompts sampled beside it. Written order (binary32, host):
 *   temperature 0: the first maximum of z[0..V) (greedy);
 *   else l[j] = z[j] / temperature;
 *   kept: every j, or with 0 < top_k < V the top_k of rank (l desc, j asc);
 *   m = the first maximum of the kept l; e[j] = repro_expf(l[j] - m) (kept), else +0;
 *   s = +0; for j ascending: s = s + e[j];
 *   u = repro_rng_uniform(key, 0, 0, 0, position); t = u * s;
 *   c = +0; for j ascending over kept: c = c + e[j]; the first j with t < c,
 *   else the last kept j. */
#ifndef REPRO_TRAIN_GENERATE_H
#define REPRO_TRAIN_GENERATE_H

#include <stdint.h>

int32_t repro_generate_draw(const float *z, int32_t V, float temperature, int32_t top_k, uint64_t seed,
                            uint64_t position);

/* The next token of a vocabulary whose padding token is pad_id: -1 (none)
 * draws among all V; 0 (REPRO_TEXT_PAD_ID, text_samples documents) draws
 * among z[1, V) and adds 1, so the pad is never drawn whatever its logit. */
int32_t repro_generate_next(const float *z, int32_t V, int32_t pad_id, float temperature, int32_t top_k,
                            uint64_t seed, uint64_t position);

#endif
