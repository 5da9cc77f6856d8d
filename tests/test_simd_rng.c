/* The SIMD twins of the random draws equal the scalar definitions bit for
 * bit: Philox blocks (AVX2, AVX-512 on x86-64; NEON on aarch64) against
 * repro_rng_u32, and AVX-512 normals against repro_rng_normal, over many
 * keys and counters (each normal's log and cos(pi x) take every path of the
 * scalar code: the mantissa halving, all four quadrants, r = 0). Counters
 * near 2^32 check that the lanes' block numbers wrap as the scalar's do. */
#include "repro/isa.h"
#include "repro/rng.h"
#include "rng/philox_simd.h"
#include "testutil.h"

/* words[0..4*blocks) of the path's Philox twin; 0 where it has none. */
static int twin_blocks(repro_isa isa, repro_rng_key key, uint32_t b0, uint32_t c0, uint32_t c1, uint32_t c2,
                       uint32_t w[64])
{
    switch (isa) {
#if defined(__x86_64__)
    case REPRO_ISA_AVX2:
        repro_philox_blocks_avx2(key, b0, c0, c1, c2, w);
        return 8;
    case REPRO_ISA_AVX512:
        repro_philox_blocks_avx512(key, b0, c0, c1, c2, w);
        return 16;
#endif
#if defined(__aarch64__)
    case REPRO_ISA_NEON:
        repro_philox_blocks_neon(key, b0, c0, c1, c2, w);
        return 8;
#endif
    default:
        return 0;
    }
}

static long compare_normals(repro_rng_key key, uint32_t b0, uint32_t c0, uint32_t c1, uint32_t c2, long *count)
{
    long mismatches = 0;
#if defined(__x86_64__)
    float z[32];
    repro_normals_avx512(key, b0, c0, c1, c2, z);
    for (int i = 0; i < 32; i++) {
        float ref = repro_rng_normal(key, c0, c1, c2, 2 * (uint64_t)b0 + (uint64_t)i);
        uint32_t a, b;
        memcpy(&a, &z[i], 4);
        memcpy(&b, &ref, 4);
        if (a != b && mismatches < 5)
            fprintf(stderr, "normal block %u lane %d: %a vs %a\n", b0, i, (double)z[i], (double)ref);
        mismatches += a != b;
        (*count)++;
    }
#else
    (void)key, (void)b0, (void)c0, (void)c1, (void)c2, (void)count;
#endif
    return mismatches;
}

int main(void)
{
    int tested = 0;
    long mismatches = 0, normals = 0, words = 0;
    for (int isa = REPRO_ISA_SCALAR + 1; isa < REPRO_ISA_COUNT; isa++) {
        if (!repro_isa_supported((repro_isa)isa)) {
            printf("note: this CPU lacks %s; its Philox twin is not tested\n", repro_isa_name((repro_isa)isa));
            continue;
        }
        tested++;
        for (uint64_t seed = 1; seed <= 40; seed++) {
            repro_rng_key key = repro_rng_derive(seed * 7919, REPRO_RNG_AUGMENT, (uint32_t)seed, 0);
            for (uint32_t b = 0; b < 4096 + 64; b += 16) {
                /* the last four rows of blocks end at 2^32 - 1 + lanes: the wrap */
                uint32_t b0 = b < 4096 ? b : 0xFFFFFFF0u + (b - 4096) / 16;
                uint32_t c0 = (uint32_t)(seed * 13 + b0), c1 = 1 + (uint32_t)seed, c2 = (uint32_t)(b0 >> 3);
                uint32_t w[64];
                int blocks = twin_blocks((repro_isa)isa, key, b0, c0, c1, c2, w);
                for (int i = 0; i < 4 * blocks; i++) {
                    uint32_t want[4];
                    repro_rng_block(key, b0 + (uint32_t)i / 4, c0, c1, c2, want);
                    mismatches += w[i] != want[i % 4];
                    words++;
                }
                if (isa == REPRO_ISA_AVX512 && b < 4096)
                    mismatches += compare_normals(key, b0, c0, c1, c2, &normals);
            }
        }
    }
    if (!tested)
        TEST_SKIP("this CPU has no SIMD path: no SIMD twin to test");
    printf("compared %ld Philox words and %ld normals over %d SIMD paths: %ld mismatches\n", words, normals,
           tested, mismatches);
    CHECK(mismatches == 0);
    return test_finish("test_simd_rng");
}
