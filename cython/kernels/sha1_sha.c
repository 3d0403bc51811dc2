/* sha1_sha.c - SHA-1 compression with the x86 SHA extensions (SHA-NI: SHA1RNDS4, SHA1NEXTE,
 * SHA1MSG1, SHA1MSG2; plus SSSE3 PSHUFB and SSE4.1 PEXTRD). Compiled for "sha,sse4.1"; used from
 * level avx2 up when cpuid reports SHA (cpu.c).
 *
 * Register layout (Intel's): ABCD holds a..d with a in the highest 32-bit lane; E holds e in the
 * highest lane. W[g] holds message words 4g..4g+3, word 4g in the highest lane (the 16 message
 * bytes reversed as a whole, which is big-endian words in reverse order). Round group g (rounds
 * 4g..4g+3) uses SHA1RNDS4 with function g / 5; its E input is e + W[0] for g = 0 and otherwise
 * SHA1NEXTE(ABCD before the previous group, W[g]), which adds rol(a, 30) of that state: the e of
 * this group. The schedule W[g] = SHA1MSG2(SHA1MSG1(W[g-4], W[g-3]) ^ W[g-2], W[g-1]) is the
 * FIPS 180-4 recurrence w[t] = rol1(w[t-3] ^ w[t-8] ^ w[t-14] ^ w[t-16]), four words at a time.
 */
#include "wsc_cpu.h"

#ifdef WSC_X86_64
#include <immintrin.h>

/* message group g (0..19) with round function f = g / 5; w[] is a ring of the last four groups */
#define GROUP(g, f)                                                                                      \
    do {                                                                                                 \
        if ((g) >= 4)                                                                                    \
            w[(g)&3] = _mm_sha1msg2_epu32(                                                               \
                _mm_xor_si128(_mm_sha1msg1_epu32(w[(g)&3], w[((g) + 1) & 3]), w[((g) + 2) & 3]),         \
                w[((g) + 3) & 3]);                                                                       \
        e = (g) == 0 ? _mm_add_epi32(e0, w[0]) : _mm_sha1nexte_epu32(before, w[(g)&3]);                  \
        before = abcd;                                                                                   \
        abcd = _mm_sha1rnds4_epu32(abcd, e, f);                                                          \
    } while (0)

WSC_TARGET_SHA void wsc_sha1_sha(uint32_t h[5], const unsigned char *p, size_t nblocks)
{
    const __m128i reverse = _mm_set_epi64x(0x0001020304050607LL, 0x08090a0b0c0d0e0fLL);
    __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)h), 0x1B);
    __m128i e0 = _mm_set_epi32((int)h[4], 0, 0, 0);
    __m128i abcd0, e, before, w[4];

    for (; nblocks > 0; nblocks--, p += 64) {
        abcd0 = abcd;
        w[0] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)p), reverse);
        w[1] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), reverse);
        w[2] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), reverse);
        w[3] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), reverse);
        before = abcd;
        GROUP(0, 0);
        GROUP(1, 0);
        GROUP(2, 0);
        GROUP(3, 0);
        GROUP(4, 0);
        GROUP(5, 1);
        GROUP(6, 1);
        GROUP(7, 1);
        GROUP(8, 1);
        GROUP(9, 1);
        GROUP(10, 2);
        GROUP(11, 2);
        GROUP(12, 2);
        GROUP(13, 2);
        GROUP(14, 2);
        GROUP(15, 3);
        GROUP(16, 3);
        GROUP(17, 3);
        GROUP(18, 3);
        GROUP(19, 3);
        /* e after 80 rounds is rol(a, 30) of the state before the last group: add it to e0 */
        e0 = _mm_sha1nexte_epu32(before, e0);
        abcd = _mm_add_epi32(abcd, abcd0);
    }
    _mm_storeu_si128((__m128i *)h, _mm_shuffle_epi32(abcd, 0x1B));
    h[4] = (uint32_t)_mm_extract_epi32(e0, 3);
}

#endif /* WSC_X86_64 */
