/* text_tables.c - the lookup tables of the vector text kernels (wsc_cpu.h), computed once at
 * import instead of shipped as literals: 8 KiB of windows, 3.3 KiB of decode shuffles, 4.3 KiB of
 * encode shuffles. Baseline C; filled under the import lock before any kernel can use them.
 *
 * Decoding follows Lemire & Mula, "Transcoding billions of Unicode characters per second with SIMD
 * instructions" (2022): the end-of-character bits of 12 bytes fix the lengths of the characters
 * that start there, so one shuffle moves each character's bytes into its own lane, last byte
 * lowest, and a few shifts and masks assemble the code points. */
#include "wsc_cpu.h"

#include <string.h>

wsc_text_window wsc_text_windows[4096];
uint8_t wsc_text_shuffles[WSC_WIN_COUNT][16];
uint8_t wsc_text_packs[256][16];
uint8_t wsc_text_pack_len[256];
const uint8_t wsc_text_spread[16] = {0, 1, 4, 5, 16, 17, 20, 21, 64, 65, 68, 69, 80, 81, 84, 85};

static int filled;

/* Lane `lane` of `width` bytes in shuffle `sh` takes the `len` bytes at `start`, last byte first;
 * the other bytes of the lane are zero (0x80 in a shuffle). */
static void put_lane(uint8_t *sh, int lane, int width, int start, int len)
{
    int b;
    for (b = 0; b < width; b++)
        sh[lane * width + b] = (uint8_t)(b < len ? start + len - 1 - b : 0x80);
}

/* 1 when the first `count` lengths are all at most `most` */
static int all_at_most(const int *lens, int count, int most)
{
    int k;
    for (k = 0; k < count; k++)
        if (lens[k] > most)
            return 0;
    return 1;
}

/* the lengths (each 1..base) as a number in base `base`, first length lowest */
static int digits(const int *lens, int count, int base)
{
    int id = 0, k;
    for (k = count - 1; k >= 0; k--)
        id = id * base + (lens[k] - 1);
    return id;
}

static void fill_window(unsigned mask)
{
    int lens[12], count = 0, start = 0, j, id, want, width, k;
    uint8_t *sh;

    for (j = 0; j < 12; j++)
        if (mask & (1u << j)) {
            lens[count++] = j + 1 - start;
            start = j + 1;
        }
    /* the first case that fits: 6 characters of <= 2 bytes, 4 of <= 3, else 3 (of <= 4 in valid
     * UTF-8; masks that valid UTF-8 cannot produce still get an entry, one that makes progress) */
    if (count >= 6 && all_at_most(lens, 6, 2)) {
        want = 6, width = 2, id = digits(lens, 6, 2);
    } else if (count >= 4 && all_at_most(lens, 4, 3)) {
        want = 4, width = 4, id = WSC_WIN_B + digits(lens, 4, 3);
    } else {
        for (k = 0; k < 3; k++)
            if (k >= count || lens[k] > 4)
                lens[k] = 1;
        want = 3, width = 4, id = WSC_WIN_C + digits(lens, 3, 4);
    }
    sh = wsc_text_shuffles[id];
    memset(sh, 0x80, 16);
    for (k = 0, start = 0; k < want; k++) {
        put_lane(sh, k, width, start, lens[k]);
        start += lens[k];
    }
    wsc_text_windows[mask].id = (uint8_t)id;
    wsc_text_windows[mask].consumed = (uint8_t)start;
}

/* 4 characters of UTF-8 lengths 1 + (idx >> 2k & 3), each in a 32-bit lane first byte lowest,
 * packed into consecutive bytes */
static void fill_pack(unsigned idx)
{
    int k, b, o = 0;
    memset(wsc_text_packs[idx], 0x80, 16);
    for (k = 0; k < 4; k++)
        for (b = 0; b <= (int)((idx >> (2 * k)) & 3); b++)
            wsc_text_packs[idx][o++] = (uint8_t)(4 * k + b);
    wsc_text_pack_len[idx] = (uint8_t)o;
}

void wsc_text_tables_init(void)
{
    unsigned i;
    if (filled)
        return;
    for (i = 0; i < 4096; i++)
        fill_window(i);
    for (i = 0; i < 256; i++)
        fill_pack(i);
    filled = 1;
}
