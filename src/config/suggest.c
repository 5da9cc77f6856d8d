/* suggest.c: "did you mean ...?" for misspelt keys. */
#include <string.h>

#include "config/schema.h"

enum { SUGGEST_MAX_LEN = 64 };

/* Optimal string alignment distance: insertions, deletions, substitutions
 * and swaps of two neighbours each cost 1 ("betas" -> "beta1" is 1). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > SUGGEST_MAX_LEN || m > SUGGEST_MAX_LEN)
        return (size_t)-1;
    size_t d[SUGGEST_MAX_LEN + 1][SUGGEST_MAX_LEN + 1]; /* d[i][j]: a[0..i) vs b[0..j) */
    for (size_t i = 0; i <= n; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t best = d[i - 1][j - 1] + cost;
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[n][m];
}

const char *cfg_nearest(const char *word, const char *const *candidates, size_t n)
{
    /* Close enough to be a typo: 1 edit for short words, up to 3 for long ones. */
    size_t limit = strlen(word) / 3;
    limit = limit < 1 ? 1 : limit > 3 ? 3 : limit;
    const char *best = NULL;
    size_t best_d = limit + 1;
    for (size_t i = 0; i < n; i++) {
        size_t dist = edit_distance(word, candidates[i]);
        if (dist < best_d) {
            best = candidates[i];
            best_d = dist;
        }
    }
    return best;
}
