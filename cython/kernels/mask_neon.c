/* mask_neon.c - masking with 16-byte NEON vectors (baseline on aarch64). See wsc_cpu.h for the
 * kernel contract. Unaligned vector loads and stores are cheap on aarch64 cores, so there is no
 * alignment step; each vector is loaded before it is stored (out == in works). */
#include "wsc_cpu.h"

#ifdef WSC_AARCH64
#include <arm_neon.h>

#include "wsc_mask.h"

unsigned wsc_mask_neon(unsigned char *out, const unsigned char *in, size_t n, const unsigned char key[4],
                       unsigned phase)
{
    size_t i = 0;
    uint8x16_t k, v0, v1, v2, v3;

    if (n < 16)
        return wsc_mask_short(out, in, n, key, phase);
    k = vreinterpretq_u8_u32(vdupq_n_u32(wsc_mask_word(key, phase)));
    for (; n - i >= 64; i += 64) {
        v0 = veorq_u8(vld1q_u8(in + i), k);
        v1 = veorq_u8(vld1q_u8(in + i + 16), k);
        v2 = veorq_u8(vld1q_u8(in + i + 32), k);
        v3 = veorq_u8(vld1q_u8(in + i + 48), k);
        vst1q_u8(out + i, v0);
        vst1q_u8(out + i + 16, v1);
        vst1q_u8(out + i + 32, v2);
        vst1q_u8(out + i + 48, v3);
    }
    for (; n - i >= 16; i += 16)
        vst1q_u8(out + i, veorq_u8(vld1q_u8(in + i), k));
    return wsc_mask_short(out + i, in + i, n - i, key, phase + (unsigned)(i & 3));
}

#endif /* WSC_AARCH64 */
