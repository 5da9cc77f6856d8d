/* The SIMD twins of the random draws equal the scalar definitions bit for
 * bit: Philox blocks (AVX2, AVX-512) against repro_rng_u32, and AVX-512
 * normals against repro_rng_normal, over many keys and counters (each
 * normal's log and cos(pi x) take every path of the scalar code: the
 * mantissa halving, all four quadrants, r = 0). */
#include "repro/isa.h"
#include "repro/rng.h"
#include "rng/philox_simd.h"
#include "testutil.h"

int main(void)
{
    int have2 = repro_isa_supported(REPRO_ISA_AVX2), have512 = repro_isa_supported(REPRO_ISA_AVX512);
    if (!have2)
        TEST_SKIP("this CPU has no AVX2: no SIMD twin to test");
    if (!have512)
        printf("note: this CPU has no AVX-512; only the AVX2 Philox twin is tested\n");
    long mismatches = 0, normals = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        repro_rng_key key = repro_rng_derive(seed * 7919, REPRO_RNG_AUGMENT, (uint32_t)seed, 0);
        for (uint32_t b0 = 0; b0 < 4096; b0 += 16) {
            uint32_t c0 = (uint32_t)(seed * 13 + b0), c1 = 1 + (uint32_t)seed, c2 = (uint32_t)(b0 >> 3);
            uint32_t w[64];
            repro_philox_blocks_avx2(key, b0, c0, c1, c2, w);
            for (int i = 0; i < 32; i++)
                mismatches += w[i] != repro_rng_u32(key, c0, c1, c2, 4 * (uint64_t)b0 + (uint64_t)i);
            if (!have512)
                continue;
            repro_philox_blocks_avx512(key, b0, c0, c1, c2, w);
            for (int i = 0; i < 64; i++)
                mismatches += w[i] != repro_rng_u32(key, c0, c1, c2, 4 * (uint64_t)b0 + (uint64_t)i);
            float z[32];
            repro_normals_avx512(key, b0, c0, c1, c2, z);
            for (int i = 0; i < 32; i++) {
                float ref = repro_rng_normal(key, c0, c1, c2, 2 * (uint64_t)b0 + (uint64_t)i);
                uint32_t a, b;
                memcpy(&a, &z[i], 4);
                memcpy(&b, &ref, 4);
                if (a != b && mismatches < 5)
                    fprintf(stderr, "normal seed %llu block %u lane %d: %a vs %a\n", (unsigned long long)seed,
                            b0, i, (double)z[i], (double)ref);
                mismatches += a != b;
                normals++;
            }
        }
    }
    printf("compared %ld normals and the Philox words of %d keys: %ld mismatches\n", normals, 40, mismatches);
    CHECK(mismatches == 0);
    return test_finish("test_simd_rng");
}
