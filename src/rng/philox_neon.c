/* Philox4x32-10 on NEON: 8 blocks as two sets of 4 lanes (see
 * philox_simd.h). vmull_u32 gives the exact 64-bit products, split into the
 * high and low words the scalar mulhilo takes. aarch64 only. */
#include <arm_neon.h>

#include "rng/philox_simd.h"

/* lo = (a * m) mod 2^32, hi = (a * m) >> 32, lane by lane. */
static inline void mulhilo(uint32x4_t a, uint32_t m, uint32x4_t *lo, uint32x4_t *hi)
{
    const uint32x2_t mm = vdup_n_u32(m);
    uint64x2_t p01 = vmull_u32(vget_low_u32(a), mm), p23 = vmull_u32(vget_high_u32(a), mm);
    uint32x4_t w0 = vreinterpretq_u32_u64(p01), w1 = vreinterpretq_u32_u64(p23);
    *lo = vuzp1q_u32(w0, w1); /* the even 32-bit halves: low words */
    *hi = vuzp2q_u32(w0, w1); /* the odd ones: high words */
}

/* x[0..3]: the four words of blocks b0 + lane; ten rounds in place. */
static void rounds(uint32x4_t x[4], repro_rng_key key)
{
    uint32_t k0 = key.k[0], k1 = key.k[1];
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        uint32x4_t lo0, hi0, lo1, hi1;
        mulhilo(x[0], 0xD2511F53u, &lo0, &hi0);
        mulhilo(x[2], 0xCD9E8D57u, &lo1, &hi1);
        uint32x4_t y0 = veorq_u32(veorq_u32(hi1, x[1]), vdupq_n_u32(k0));
        uint32x4_t y2 = veorq_u32(veorq_u32(hi0, x[3]), vdupq_n_u32(k1));
        x[0] = y0;
        x[1] = lo1;
        x[2] = y2;
        x[3] = lo0;
    }
}

void repro_philox_blocks_neon(repro_rng_key key, uint32_t b0, uint32_t c0, uint32_t c1, uint32_t c2,
                              uint32_t words[32])
{
    static const uint32_t lane[4] = {0, 1, 2, 3};
    for (int half = 0; half < 2; half++) {
        uint32x4_t x[4] = {vaddq_u32(vdupq_n_u32(b0 + 4u * (uint32_t)half), vld1q_u32(lane)), vdupq_n_u32(c0),
                           vdupq_n_u32(c1), vdupq_n_u32(c2)};
        rounds(x, key);
        /* vst4q interleaves: words[4q + j] = word j of block q */
        uint32x4x4_t out = {{x[0], x[1], x[2], x[3]}};
        vst4q_u32(words + 16 * half, out);
    }
}
