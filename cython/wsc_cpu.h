/* wsc_cpu.h - the kernel table behind runtime CPU dispatch, and the per-ISA kernel declarations.
 *
 * Every extension module is compiled for the baseline instruction set (x86-64: SSE2; aarch64:
 * NEON). Kernels for wider instruction sets live in cython/kernels/<job>_<isa>.c; each function
 * that uses such instructions carries the ISA in its symbol (_avx2, _avx512, _sha, _neon) and a
 * function-level target attribute (WSC_TARGET_*), and so do the static inline helpers it calls.
 * Nothing else may use instructions beyond the baseline: `objdump -d` shows which code needs what.
 *
 * The one table is owned by wscodec._c.mask (cython/kernels/cpu.c fills it once at import, from
 * cpuid + xgetbv, capped by WSCODEC_CPU); the other modules reach it through the capsule
 * wscodec._c.mask._KERNELS (see wsc_dispatch.h).
 *
 * Bounds, in every kernel: a full vector access at offset i happens only under a loop or branch
 * condition `n - i >= W` (W the vector width) with i <= n throughout, so it ends at or before n;
 * an alignment head of a < W bytes is taken only when n - a >= W; AVX-512 heads and tails use
 * byte-masked loads and stores that touch only bytes below n; everything else is byte or 8-byte
 * word code under the same kind of condition. The UTF-8 kernels read only s[0..n) and back up
 * at most 4 bytes, never below where the call started. tests/c/kernel_selftest.c runs every
 * kernel on exactly-sized heap copies under AddressSanitizer (tests/test_kernels_c.py).
 */
#ifndef WSC_CPU_H
#define WSC_CPU_H

#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) || defined(_M_X64)
#define WSC_X86_64 1
#elif defined(__aarch64__) || defined(_M_ARM64)
#define WSC_AARCH64 1
#endif

#if defined(__GNUC__) || defined(__clang__)
#define WSC_TARGET(isa) __attribute__((target(isa)))
#define WSC_HIDDEN __attribute__((visibility("hidden")))
#else /* MSVC compiles the intrinsics of any ISA without flags */
#define WSC_TARGET(isa)
#define WSC_HIDDEN
#endif

#define WSC_TARGET_AVX2 WSC_TARGET("avx2")
#define WSC_TARGET_AVX512 WSC_TARGET("avx512f,avx512bw")
#define WSC_TARGET_AVX512_VBMI2 WSC_TARGET("avx512f,avx512bw,avx512vbmi2,popcnt")
#define WSC_TARGET_SHA WSC_TARGET("sha,sse4.1")

/* out[i] = in[i] ^ key[(phase + i) & 3] for i < n; out == in is allowed, other overlaps are not.
 * Returns the phase of the byte after the last. */
typedef unsigned (*wsc_mask_fn)(unsigned char *out, const unsigned char *in, size_t n,
                                const unsigned char key[4], unsigned phase);
/* Incremental UTF-8 validation: see wsc_utf8.h (wsc_utf8_validate_scalar) for the contract. */
typedef size_t (*wsc_utf8_fn)(const unsigned char *s, size_t n, uint32_t *state);
/* Text (wsc_text.h has the contracts): scan = continuation bytes counted, *maxbyte raised to the
 * largest non-ASCII byte; ascii = length of the ASCII prefix, copied to out; decode = valid,
 * complete UTF-8 s[0..n) holding nchars characters into code units of `kind` (1, 2, 4) at out;
 * size = UTF-8 length of n code units (*surrogates += the unencodable ones); encode = n code units
 * as UTF-8 at out (a surrogate as 3 bytes, and *surrogates made non-zero), returns the length. */
typedef size_t (*wsc_text_scan_fn)(const unsigned char *s, size_t n, unsigned *maxbyte);
typedef size_t (*wsc_text_ascii_fn)(unsigned char *out, const unsigned char *s, size_t n);
typedef void (*wsc_text_decode_fn)(void *out, int kind, const unsigned char *s, size_t n, size_t nchars);
typedef size_t (*wsc_text_size_fn)(const void *data, int kind, size_t n, size_t *surrogates);
typedef size_t (*wsc_text_encode_fn)(unsigned char *out, const void *data, int kind, size_t n, size_t *surrogates);
/* SHA-1 compression of nblocks consecutive 64-byte blocks into h. */
typedef void (*wsc_sha1_fn)(uint32_t h[5], const unsigned char *blocks, size_t nblocks);

typedef struct {
    const char *level; /* "scalar", "sse2", "avx2", "avx512", "neon" */
    const char *sha1;  /* "scalar" or "sha" (x86 SHA extensions) */
    const char *text;  /* the text encoder: the level's, or "avx512-vbmi2" */
    wsc_mask_fn mask;
    wsc_utf8_fn utf8;
    wsc_sha1_fn sha1_compress;
    /* Inputs at least this long are masked (or copied) / validated with the GIL released: about
     * 2 us of work for these kernels, so the 30-50 ns release and re-acquisition costs <= ~2 %
     * (cpu.c has the measurements). */
    size_t nogil_mask;
    size_t nogil_utf8;
    wsc_text_scan_fn text_scan;
    wsc_text_ascii_fn text_ascii;
    wsc_text_decode_fn text_decode;
    wsc_text_size_fn text_size;
    wsc_text_encode_fn text_encode;
} wsc_kernel_table;

/* The lookup tables of the vector text kernels, filled once by wsc_cpu_select (text_tables.c).
 * Decoding (Lemire & Mula's 12-byte windows): indexed by the end-of-character bits of 12 input
 * bytes, the shuffle that spreads the first characters to 16- or 32-bit lanes (wsc_text_shuffles:
 * ids below WSC_WIN_B: 6 characters of 1-2 bytes into 16-bit lanes; below WSC_WIN_C: 4 of 1-3
 * bytes into 32-bit lanes; else 3 of 1-4 bytes into 32-bit lanes) and the bytes they take.
 * Encoding: indexed by the UTF-8 lengths of 4 characters (2 bits each, length - 1), the shuffle
 * that packs their 32-bit lanes of UTF-8 (first byte lowest) into consecutive bytes, and the sum. */
#define WSC_WIN_B 64
#define WSC_WIN_C 145
#define WSC_WIN_COUNT 209
typedef struct {
    uint8_t id, consumed;
} wsc_text_window;
WSC_HIDDEN extern wsc_text_window wsc_text_windows[4096];
WSC_HIDDEN extern uint8_t wsc_text_shuffles[WSC_WIN_COUNT][16];
WSC_HIDDEN extern uint8_t wsc_text_packs[256][16];
WSC_HIDDEN extern uint8_t wsc_text_pack_len[256];
WSC_HIDDEN extern const uint8_t wsc_text_spread[16]; /* bit j of a 4-bit mask -> 4**j */
WSC_HIDDEN void wsc_text_tables_init(void);

/* cpu.c: detection and selection. Levels are numbered in the order of wsc_cpu_level_names. */
WSC_HIDDEN extern wsc_kernel_table wsc_table; /* the active kernels */
WSC_HIDDEN int wsc_cpu_level_count(void);
WSC_HIDDEN const char *wsc_cpu_level_name(int level);   /* NULL out of range */
WSC_HIDDEN int wsc_cpu_level_index(const char *name);   /* -1: not a level of this architecture */
WSC_HIDDEN int wsc_cpu_best_level(void);                /* the best level this CPU and OS run */
WSC_HIDDEN int wsc_cpu_select(int level);               /* fill wsc_table; -1 if unsupported */
WSC_HIDDEN int wsc_cpu_selected(void);

/* the kernels, by instruction set (those of other architectures are not compiled) */
WSC_HIDDEN unsigned wsc_mask_scalar_k(unsigned char *out, const unsigned char *in, size_t n,
                                      const unsigned char key[4], unsigned phase);
WSC_HIDDEN size_t wsc_utf8_scalar_k(const unsigned char *s, size_t n, uint32_t *state);
WSC_HIDDEN void wsc_sha1_scalar(uint32_t h[5], const unsigned char *blocks, size_t nblocks);
WSC_HIDDEN size_t wsc_text_scan_scalar_k(const unsigned char *s, size_t n, unsigned *maxbyte);
WSC_HIDDEN size_t wsc_text_ascii_scalar_k(unsigned char *out, const unsigned char *s, size_t n);
WSC_HIDDEN void wsc_text_decode_scalar_k(void *out, int kind, const unsigned char *s, size_t n, size_t nchars);
WSC_HIDDEN size_t wsc_text_size_scalar_k(const void *data, int kind, size_t n, size_t *surrogates);
WSC_HIDDEN size_t wsc_text_encode_scalar_k(unsigned char *out, const void *data, int kind, size_t n,
                                          size_t *surrogates);
/* sse2 and neon vectorize the scan and the ASCII copy only; avx2 and avx512 all five */
#define WSC_TEXT_SCAN_KERNELS(isa)                                                                         \
    WSC_HIDDEN size_t wsc_text_scan_##isa(const unsigned char *s, size_t n, unsigned *maxbyte);           \
    WSC_HIDDEN size_t wsc_text_ascii_##isa(unsigned char *out, const unsigned char *s, size_t n);
#define WSC_TEXT_KERNELS(isa)                                                                              \
    WSC_TEXT_SCAN_KERNELS(isa)                                                                             \
    WSC_HIDDEN void wsc_text_decode_##isa(void *out, int kind, const unsigned char *s, size_t n, size_t nchars); \
    WSC_HIDDEN size_t wsc_text_size_##isa(const void *data, int kind, size_t n, size_t *surrogates);      \
    WSC_HIDDEN size_t wsc_text_encode_##isa(unsigned char *out, const void *data, int kind, size_t n,          \
                                            size_t *surrogates);
#ifdef WSC_X86_64
WSC_TEXT_SCAN_KERNELS(sse2)
WSC_TEXT_KERNELS(avx2)
WSC_TEXT_KERNELS(avx512)
WSC_HIDDEN size_t wsc_text_encode_vbmi2_avx512(unsigned char *out, const void *data, int kind, size_t n,
                                               size_t *surrogates); /* + VBMI2, POPCNT */
WSC_HIDDEN unsigned wsc_mask_sse2(unsigned char *out, const unsigned char *in, size_t n,
                                  const unsigned char key[4], unsigned phase);
WSC_HIDDEN unsigned wsc_mask_avx2(unsigned char *out, const unsigned char *in, size_t n,
                                  const unsigned char key[4], unsigned phase);
WSC_HIDDEN unsigned wsc_mask_avx512(unsigned char *out, const unsigned char *in, size_t n,
                                    const unsigned char key[4], unsigned phase);
WSC_HIDDEN size_t wsc_utf8_sse2(const unsigned char *s, size_t n, uint32_t *state);
WSC_HIDDEN size_t wsc_utf8_avx2(const unsigned char *s, size_t n, uint32_t *state);
WSC_HIDDEN size_t wsc_utf8_avx512(const unsigned char *s, size_t n, uint32_t *state);
WSC_HIDDEN void wsc_sha1_sha(uint32_t h[5], const unsigned char *blocks, size_t nblocks);
#endif
#ifdef WSC_AARCH64
WSC_HIDDEN unsigned wsc_mask_neon(unsigned char *out, const unsigned char *in, size_t n,
                                  const unsigned char key[4], unsigned phase);
WSC_HIDDEN size_t wsc_utf8_neon(const unsigned char *s, size_t n, uint32_t *state);
WSC_TEXT_SCAN_KERNELS(neon)
#endif

#endif /* WSC_CPU_H */
