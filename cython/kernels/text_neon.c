/* text_neon.c - text kernels at level neon: the scan and the ASCII copy with 16-byte vectors (the
 * level keeps the scalar kernels for transcoding). Compiled on aarch64 only. */
#include "wsc_cpu.h"

#ifdef WSC_AARCH64
#include <arm_neon.h>

#include "wsc_text.h"

size_t wsc_text_scan_neon(const unsigned char *s, size_t n, unsigned *maxbyte)
{
    uint8x16_t mx = vdupq_n_u8(0), v;
    size_t i = 0, conts = 0;
    unsigned b;

    for (; n - i >= 16; i += 16) {
        v = vld1q_u8(s + i);
        mx = vmaxq_u8(mx, v);
        /* continuation bytes: (v & 0xC0) == 0x80, each counted as 1 */
        conts += vaddvq_u8(vandq_u8(vceqq_u8(vandq_u8(v, vdupq_n_u8(0xC0)), vdupq_n_u8(0x80)), vdupq_n_u8(1)));
    }
    b = vmaxvq_u8(mx);
    if (b > *maxbyte)
        *maxbyte = b;
    return conts + wsc_text_scan_scalar(s + i, n - i, maxbyte);
}

size_t wsc_text_ascii_neon(unsigned char *out, const unsigned char *s, size_t n)
{
    size_t i;
    uint8x16_t v;

    for (i = 0; n - i >= 16; i += 16) {
        v = vld1q_u8(s + i);
        if (vmaxvq_u8(v) >= 0x80)
            break;
        vst1q_u8(out + i, v);
    }
    return i + wsc_text_ascii_scalar(out + i, s + i, n - i);
}

#endif /* WSC_AARCH64 */
