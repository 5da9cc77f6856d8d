/* The next token's draw: see generate.h. */
#include "train/generate.h"

#include <stdlib.h>

#include "repro/math.h"
#include "repro/rng.h"

/* j's rank among l[0..V) by (value descending, index ascending). */
static int32_t rank_of(const float *l, int32_t V, int32_t j)
{
    int32_t r = 0;
    for (int32_t i = 0; i < V; i++)
        r += l[i] > l[j] || (l[i] == l[j] && i < j);
    return r;
}

int32_t repro_generate_draw(const float *z, int32_t V, float temperature, int32_t top_k, uint64_t seed,
                            uint64_t position)
{
    int32_t best = 0;
    for (int32_t j = 1; j < V; j++)
        if (z[j] > z[best])
            best = j;
    if (temperature == 0.0f)
        return best;
    float *l = malloc((size_t)V * 2 * sizeof *l);
    if (!l) /* a draw never fails: without room, greedy */
        return best;
    float *e = l + V;
    int32_t m = -1, last = 0;
    for (int32_t j = 0; j < V; j++)
        l[j] = z[j] / temperature;
    for (int32_t j = 0; j < V; j++) {
        int kept = top_k <= 0 || top_k >= V || rank_of(l, V, j) < top_k;
        e[j] = kept ? 1.0f : -1.0f; /* marks, replaced below */
        if (kept && (m < 0 || l[j] > l[m]))
            m = j;
    }
    float s = 0.0f;
    for (int32_t j = 0; j < V; j++) {
        e[j] = e[j] > 0.0f ? repro_expf(l[j] - l[m]) : 0.0f;
        s = s + e[j];
    }
    float t = repro_rng_uniform(repro_rng_derive(seed, REPRO_RNG_GENERATE, 0, 0), 0, 0, 0, position) * s;
    float c = 0.0f;
    int32_t pick = -1;
    for (int32_t j = 0; j < V && pick < 0; j++) {
        if (top_k > 0 && top_k < V && rank_of(l, V, j) >= top_k)
            continue;
        last = j;
        c = c + e[j];
        if (t < c)
            pick = j;
    }
    free(l);
    return pick >= 0 ? pick : last;
}

int32_t repro_generate_next(const float *z, int32_t V, int32_t pad_id, float temperature, int32_t top_k,
                            uint64_t seed, uint64_t position)
{
    int32_t skip = pad_id == 0 ? 1 : 0; /* the only pad id a vocabulary has (docs/data.md) */
    return skip + repro_generate_draw(z + skip, V - skip, temperature, top_k, seed, position);
}
