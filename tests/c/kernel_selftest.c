/* kernel_selftest.c - the kernels of cython/kernels/ at every level the CPU supports, against the
 * scalar ones, in plain C (no Python): for cross-compiled builds (aarch64 NEON under qemu) and for
 * sanitizers. tests/test_kernels_c.py compiles and runs it; by hand:
 *
 *   cc -O2 -Icython tests/c/kernel_selftest.c cython/kernels/[a-z]*.c -o selftest && ./selftest
 *   aarch64-linux-gnu-gcc -static -O2 -Icython tests/c/kernel_selftest.c cython/kernels/[a-z]*.c \
 *       -o selftest && qemu-aarch64 ./selftest
 *
 * Prints one line per level and exits 0 when every kernel agrees with the scalar one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsc_cpu.h"
#include "wsc_sha1.h"
#include "wsc_text.h"
#include "wsc_utf8.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static int failures;

#define CHECK(cond, ...)                                 \
    do {                                                 \
        if (!(cond)) {                                   \
            if (failures++ < 20) {                       \
                printf("FAIL %s:%d: ", __FILE__, __LINE__); \
                printf(__VA_ARGS__);                     \
                printf("\n");                            \
            }                                            \
        }                                                \
    } while (0)

/* masking: copy and in place, every output alignment mod 64, every phase */
static void test_mask(const char *level, wsc_mask_fn fn)
{
    static unsigned char src[4096 + 128], want[4096 + 128], got[4096 + 256];
    unsigned char key[4];
    size_t n, i, so, off, trial;
    unsigned phase, p1, p2;
    unsigned char *exact;

    for (trial = 0; trial < 6000; trial++) {
        n = trial < 4000 ? trial % 200 : rnd() % 4097;
        so = rnd() % 64;
        off = trial % 64;
        phase = rnd() & 3;
        for (i = 0; i < 4; i++)
            key[i] = (unsigned char)rnd();
        for (i = 0; i < n + so; i++)
            src[i] = (unsigned char)rnd();
        p1 = wsc_mask_scalar_k(want, src + so, n, key, phase);
        memset(got, 0x5A, sizeof(got));
        exact = malloc(n + 1); /* exactly n bytes for the kernel: sanitizers see any over-read */
        memcpy(exact, src + so, n);
        p2 = fn(got + off, exact, n, key, phase);
        free(exact);
        CHECK(p1 == p2 && memcmp(want, got + off, n) == 0, "%s mask copy n=%zu off=%zu phase=%u", level, n, off, phase);
        CHECK(got[off + n] == 0x5A && (off == 0 || got[off - 1] == 0x5A), "%s mask copy wrote outside", level);
        memcpy(got + off, src + so, n);
        p2 = fn(got + off, got + off, n, key, phase);
        CHECK(p1 == p2 && memcmp(want, got + off, n) == 0, "%s mask in place n=%zu off=%zu", level, n, off);
    }
}

static const char *const chars[] = {"a", "~", "\xc3\xa9", "\xdf\xbf", "\xe0\xa0\x80", "\xe2\x82\xac", "\xed\x9f\xbf",
                                    "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf"};
static const char *const bad[] = {"\x80", "\xc0\x80", "\xc1\xbf", "\xff", "\xe0\x80\x80", "\xed\xa0\x80",
                                  "\xf0\x80\x80\x80", "\xf4\x90\x80\x80", "\xf5\x80", "\xc2" "a", "\xe2\x82" "a",
                                  "\xf0\x9f\x98" "a", "\xc2\xc2", "\xc2", "\xe2\x82", "\xf0\x9f\x98"};

static size_t make_text(unsigned char *out, size_t cap, size_t bad_at)
{
    size_t n = 0, k;
    const char *c;

    while (n + 4 < cap) {
        if (n >= bad_at && bad_at != (size_t)-1) {
            c = bad[rnd() % (sizeof(bad) / sizeof(bad[0]))];
            bad_at = (size_t)-1;
        } else {
            c = (rnd() & 3) ? chars[rnd() % (sizeof(chars) / sizeof(chars[0]))] : "x";
        }
        k = strlen(c);
        memcpy(out + n, c, k);
        n += k;
    }
    return n;
}

static void test_utf8(const char *level, wsc_utf8_fn fn)
{
    static unsigned char buf[5000];
    size_t n, trial, cut, r1, r2, q1, q2;
    uint32_t s1, s2;
    unsigned char *exact;

    for (trial = 0; trial < 20000; trial++) {
        size_t cap = trial < 10000 ? 20 + trial % 300 : 20 + rnd() % 4900;
        size_t bad_at = (trial % 3) ? (size_t)(rnd() % cap) : (size_t)-1;
        if (trial % 5 == 0)
            memset(buf, 'x', cap); /* long ASCII runs around the error */
        n = make_text(buf, cap, bad_at);
        if (trial % 7 == 0)
            n -= n > 0; /* often cut inside the last sequence */
        s1 = s2 = WSC_UTF8_ACCEPT;
        r1 = wsc_utf8_scalar_k(buf, n, &s1);
        exact = malloc(n + 1); /* exactly n bytes for the kernel: sanitizers see any over-read */
        memcpy(exact, buf, n);
        r2 = fn(exact, n, &s2);
        free(exact);
        CHECK(r1 == r2 && s1 == s2, "%s utf8 n=%zu: %zu/%u vs %zu/%u", level, n, r1, s1, r2, s2);
        cut = rnd() % (n + 1);
        s1 = s2 = WSC_UTF8_ACCEPT;
        r1 = wsc_utf8_scalar_k(buf, cut, &s1);
        q1 = s1 == WSC_UTF8_REJECT ? 0 : wsc_utf8_scalar_k(buf + cut, n - cut, &s1);
        r2 = fn(buf, cut, &s2);
        q2 = s2 == WSC_UTF8_REJECT ? 0 : fn(buf + cut, n - cut, &s2);
        CHECK(r1 == r2 && q1 == q2 && s1 == s2, "%s utf8 split n=%zu cut=%zu", level, n, cut);
    }
}

/* text: scan, ASCII copy, decode, UTF-8 length and encode against the scalar kernels, each
 * writing into exactly-sized heap buffers (sanitizers see any store past the end) */
static void test_text(const char *level, const wsc_kernel_table *t)
{
    static unsigned char buf[5000], units[5000 * 4], utf8[5000 * 2];
    size_t n, trial, conts1, conts2, nchars, size1, size2, bad1, bad2, len1, len2;
    unsigned max1, max2;
    int kind;
    unsigned char *exact_in, *exact_out;

    for (trial = 0; trial < 6000; trial++) {
        size_t cap = trial < 3000 ? 6 + trial % 300 : 20 + rnd() % 4900;
        if (trial % 4 == 0)
            memset(buf, 'x', cap); /* ASCII runs: the whole-block paths */
        n = make_text(buf, cap, (size_t)-1);
        if (trial % 9 == 0) { /* a str whose kind one late character decides */
            size_t k = n > 4 ? n - 4 : 0;
            while (k > 0 && (buf[k] & 0xC0) == 0x80)
                k--;
            memset(buf, 'y', k);
        }
        exact_in = malloc(n + 1);
        memcpy(exact_in, buf, n);
        max1 = max2 = 0;
        conts1 = wsc_text_scan_scalar_k(buf, n, &max1);
        conts2 = t->text_scan(exact_in, n, &max2);
        CHECK(conts1 == conts2 && wsc_text_maxchar(max1) == wsc_text_maxchar(max2), "%s text scan n=%zu", level, n);
        nchars = n - conts1;
        kind = max1 < 0xC4 ? 1 : max1 < 0xF0 ? 2 : 4;
        exact_out = malloc(nchars * (size_t)kind + 1);
        len1 = wsc_text_ascii_scalar_k(units, buf, n);
        len2 = t->text_ascii(exact_out, exact_in, n);
        CHECK(len1 == len2 && memcmp(units, exact_out, len1) == 0, "%s text ascii n=%zu", level, n);
        wsc_text_decode_scalar_k(units, kind, buf, n, nchars);
        t->text_decode(exact_out, kind, exact_in, n, nchars);
        CHECK(memcmp(units, exact_out, nchars * (size_t)kind) == 0, "%s text decode kind %d n=%zu", level, kind, n);
        free(exact_in);
        free(exact_out);
        bad1 = bad2 = 0;
        size1 = wsc_text_size_scalar_k(units, kind, nchars, &bad1);
        size2 = t->text_size(units, kind, nchars, &bad2);
        CHECK(size1 == n && size2 == n && bad1 == 0 && bad2 == 0, "%s text size kind %d n=%zu", level, kind, n);
        exact_out = malloc(n + 1);
        len1 = wsc_text_encode_scalar_k(utf8, units, kind, nchars, &bad1);
        len2 = t->text_encode(exact_out, units, kind, nchars, &bad2);
        CHECK(len1 == n && len2 == n && memcmp(utf8, buf, n) == 0 && memcmp(exact_out, buf, n) == 0 && !bad1 && !bad2,
              "%s text encode kind %d n=%zu", level, kind, n);
        free(exact_out);
    }
}

static void test_sha1(const char *level, wsc_sha1_fn fn)
{
    static unsigned char data[1000];
    unsigned char d1[20], d2[20];
    size_t n, i;

    for (n = 0; n < sizeof(data); n += 1 + n / 8) {
        for (i = 0; i < n; i++)
            data[i] = (unsigned char)rnd();
        wsc_sha1_digest(wsc_sha1_scalar, data, n, d1);
        wsc_sha1_digest(fn, data, n, d2);
        CHECK(memcmp(d1, d2, 20) == 0, "%s sha1 n=%zu", level, n);
    }
}

int main(void)
{
    int level;
    unsigned char digest[20];
    static const unsigned char abc_sha1[20] = {0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81, 0x6a, 0xba, 0x3e,
                                               0x25, 0x71, 0x78, 0x50, 0xc2, 0x6c, 0x9c, 0xd0, 0xd8, 0x9d};

    wsc_sha1_digest(wsc_sha1_scalar, (const unsigned char *)"abc", 3, digest);
    CHECK(memcmp(digest, abc_sha1, 20) == 0, "scalar sha1(abc)");
    for (level = 0; level <= wsc_cpu_best_level(); level++) {
        CHECK(wsc_cpu_select(level) == 0, "select %d", level);
        test_mask(wsc_table.level, wsc_table.mask);
        test_utf8(wsc_table.level, wsc_table.utf8);
        test_sha1(wsc_table.level, wsc_table.sha1_compress);
        test_text(wsc_table.level, &wsc_table);
#ifdef WSC_X86_64
        if (wsc_table.text_encode == wsc_text_encode_vbmi2_avx512) { /* the AVX-512 encoder without VBMI2 too */
            wsc_kernel_table t = wsc_table;
            t.text_encode = wsc_text_encode_avx512;
            test_text("avx512 (F+BW only)", &t);
        }
#endif
        printf("%s (sha1: %s): %s\n", wsc_table.level, wsc_table.sha1, failures ? "FAILED" : "ok");
    }
    return failures != 0;
}
