/* scalar.c - the portable kernels as table entries (the bodies are the inline headers, which the
 * SIMD kernels also use for their heads and tails). */
#include "wsc_cpu.h"
#include "wsc_mask.h"
#include "wsc_sha1.h"
#include "wsc_text.h"
#include "wsc_utf8.h"

unsigned wsc_mask_scalar_k(unsigned char *out, const unsigned char *in, size_t n, const unsigned char key[4],
                           unsigned phase)
{
    return wsc_mask_scalar(out, in, n, key, phase);
}

size_t wsc_utf8_scalar_k(const unsigned char *s, size_t n, uint32_t *state)
{
    return wsc_utf8_validate_scalar(s, n, state);
}

void wsc_sha1_scalar(uint32_t h[5], const unsigned char *blocks, size_t nblocks)
{
    for (; nblocks > 0; nblocks--, blocks += 64)
        wsc_sha1_compress(h, blocks);
}

size_t wsc_text_scan_scalar_k(const unsigned char *s, size_t n, unsigned *maxbyte)
{
    return wsc_text_scan_scalar(s, n, maxbyte);
}

size_t wsc_text_ascii_scalar_k(unsigned char *out, const unsigned char *s, size_t n)
{
    return wsc_text_ascii_scalar(out, s, n);
}

void wsc_text_decode_scalar_k(void *out, int kind, const unsigned char *s, size_t n, size_t nchars)
{
    (void)nchars;
    wsc_text_decode_scalar(out, kind, s, n);
}

size_t wsc_text_size_scalar_k(const void *data, int kind, size_t n, size_t *surrogates)
{
    return wsc_text_size_scalar(data, kind, n, surrogates);
}

size_t wsc_text_encode_scalar_k(unsigned char *out, const void *data, int kind, size_t n, size_t *surrogates)
{
    return wsc_text_encode_scalar(out, data, kind, n, surrogates);
}
