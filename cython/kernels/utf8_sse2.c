/* utf8_sse2.c - UTF-8 validation at level sse2 (baseline on x86-64): the DFA of wsc_utf8.h with a
 * 16-byte ASCII fast path. (The lookup algorithm needs a byte shuffle, PSHUFB, which SSE2 does
 * not have; every CPU with AVX2 runs utf8_avx2.c instead.) */
#include "wsc_cpu.h"

#ifdef WSC_X86_64
#include <emmintrin.h>

#include "wsc_utf8.h"

size_t wsc_utf8_sse2(const unsigned char *s, size_t n, uint32_t *state)
{
    uint32_t st = *state;
    size_t i = 0;

    while (i < n) {
        if (st == WSC_UTF8_ACCEPT) {
            while (n - i >= 32 && _mm_movemask_epi8(_mm_or_si128(_mm_loadu_si128((const __m128i *)(s + i)),
                                                                 _mm_loadu_si128((const __m128i *)(s + i + 16)))) == 0)
                i += 32;
            if (n - i >= 16 && _mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(s + i))) == 0) {
                i += 16;
                continue;
            }
        }
        if (wsc_utf8_run_block(s, &i, (n - i > 16) ? i + 16 : n, &st)) {
            *state = WSC_UTF8_REJECT;
            return i;
        }
    }
    *state = st;
    return n;
}

#endif /* WSC_X86_64 */
