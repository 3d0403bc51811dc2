/* wsc_accept.h - Sec-WebSocket-Accept = base64(SHA-1(key || GUID)) (RFC 6455 section 4.2.2).
 *
 * The message is always 24 + 36 = 60 bytes, so its two padded SHA-1 blocks are a fixed template
 * (GUID, 0x80 terminator, zeros, bit length 480) with the key copied into the first 24 bytes.
 */
#ifndef WSC_ACCEPT_H
#define WSC_ACCEPT_H

#include <stdint.h>
#include <string.h>

#include "wsc_base64.h"
#include "wsc_sha1.h"

static const unsigned char wsc_accept_template[128] = {
    /* 0..23: the key */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    '2', '5', '8', 'E', 'A', 'F', 'A', '5', '-', 'E', '9', '1', '4', '-', '4', '7', 'D', 'A',
    '-', '9', '5', 'C', 'A', '-', 'C', '5', 'A', 'B', '0', 'D', 'C', '8', '5', 'B', '1', '1',
    0x80, 0, 0, 0,
    /* second block: zeros, then the message length in bits, big-endian: 60 * 8 = 480 = 0x1E0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0x01, 0xE0,
};

/* The 28 characters of the accept value of the 24-byte key, written to out. */
static inline void wsc_accept(void (*compress)(uint32_t *, const unsigned char *, size_t),
                              const unsigned char key[24], char out[28])
{
    unsigned char msg[128], digest[20];
    uint32_t h[5];

    memcpy(msg, wsc_accept_template, sizeof(msg));
    memcpy(msg, key, 24);
    wsc_sha1_init(h);
    compress(h, msg, 2);
    wsc_sha1_output(h, digest);
    wsc_base64_encode(out, digest, 20);
}

#endif /* WSC_ACCEPT_H */
