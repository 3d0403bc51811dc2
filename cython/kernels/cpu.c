/* cpu.c - CPU detection and the kernel table (wsc_cpu.h).
 *
 * x86-64: cpuid for the instruction sets and xgetbv for the OS's support of their register state
 * (YMM for AVX2; opmask + ZMM for AVX-512), so a CPU that has AVX-512 under an OS (or hypervisor)
 * that does not save ZMM registers stays at AVX2. (macOS enables AVX-512 state lazily and reports
 * it only after first use: AVX2 there, which is the safe choice.) SHA-1 uses the SHA extensions
 * from level avx2 up, when the CPU has them (they need SSSE3/SSE4.1, which every AVX2 CPU has).
 * aarch64: NEON (Advanced SIMD) is part of the baseline. Elsewhere: scalar only.
 *
 * Runs at import, under the import lock; wsc_cpu_select afterwards is for tests only (a plain store
 * of function pointers, not synchronized with kernels running in other threads: a thread that
 * reads the table meanwhile may see old and new entries mixed, each of them runnable here).
 */
#include "wsc_cpu.h"

#ifdef WSC_X86_64
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#endif

#include <string.h>

#if defined(WSC_X86_64)
static const char *const level_names[] = {"scalar", "sse2", "avx2", "avx512"};
#elif defined(WSC_AARCH64)
static const char *const level_names[] = {"scalar", "neon"};
#else
static const char *const level_names[] = {"scalar"};
#endif
#define LEVELS ((int)(sizeof(level_names) / sizeof(level_names[0])))

/* GIL thresholds: the input size at which a kernel does about 2 us of work, so that releasing and
 * re-taking an uncontended GIL (30-50 ns, measured with CPython 3.11 on an AMD EPYC Zen 4) costs
 * at most ~2 %. Measured there, with the Python call included:
 *   masking in place: scalar ~18 GB/s, sse2 ~50, avx2/avx512 ~100 (L2-resident);
 *   masking into a new bytes object: ~45-50 GB/s at every vector level (the fresh buffer's memory
 *   traffic bounds it), so the in-place figure decides;
 *   UTF-8, multi-byte text: scalar/sse2 DFA ~0.6 GB/s, avx2/avx512 ~17 GB/s; ASCII ~4x that.
 * The UTF-8 threshold follows multi-byte text (ASCII is then released at ~0.5 us of work).
 * NEON: typical aarch64 cores reach about half of the AVX2 figures. */
#define WSC_SCALAR_TABLE {"scalar", "scalar", "scalar", wsc_mask_scalar_k, wsc_utf8_scalar_k, wsc_sha1_scalar, 32768, 4096,       \
    wsc_text_scan_scalar_k, wsc_text_ascii_scalar_k, wsc_text_decode_scalar_k, wsc_text_size_scalar_k, \
    wsc_text_encode_scalar_k}

wsc_kernel_table wsc_table = WSC_SCALAR_TABLE;

#define WSC_TEXT_SELECT_SCAN(t, isa) ((t).text_scan = wsc_text_scan_##isa, (t).text_ascii = wsc_text_ascii_##isa)
#define WSC_TEXT_SELECT(t, isa)                                                                     \
    (WSC_TEXT_SELECT_SCAN(t, isa), (t).text_decode = wsc_text_decode_##isa,                         \
     (t).text_size = wsc_text_size_##isa, (t).text_encode = wsc_text_encode_##isa)

static int best_level = -1; /* detected once */
static int selected;
#ifdef WSC_X86_64
static int has_sha;
static int has_vbmi2; /* AVX512-VBMI2 (byte compress) and POPCNT, for the text encoder */
#endif

#ifdef WSC_X86_64
static void cpuid(unsigned leaf, unsigned sub, unsigned r[4])
{
#if defined(_MSC_VER) && !defined(__clang__)
    int v[4];
    __cpuidex(v, (int)leaf, (int)sub);
    r[0] = (unsigned)v[0], r[1] = (unsigned)v[1], r[2] = (unsigned)v[2], r[3] = (unsigned)v[3];
#else
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
#endif
}

/* XCR0: the register state the OS saves on context switches (call only when OSXSAVE is set) */
static uint64_t xgetbv0(void)
{
#if defined(_MSC_VER) && !defined(__clang__)
    return _xgetbv(0);
#else
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
#endif
}

static int detect(void)
{
    unsigned r[4], max_leaf, ecx1, ebx7 = 0, ecx7 = 0;
    uint64_t xcr0 = 0;
    int level = 1; /* SSE2 is part of x86-64 */

    cpuid(0, 0, r);
    max_leaf = r[0];
    cpuid(1, 0, r);
    ecx1 = r[2];
    if (max_leaf >= 7) {
        cpuid(7, 0, r);
        ebx7 = r[1];
        ecx7 = r[2];
    }
    if (ecx1 & (1u << 27)) /* OSXSAVE */
        xcr0 = xgetbv0();
    /* AVX (leaf 1 ecx 28) + AVX2 (leaf 7 ebx 5) + XMM and YMM state */
    if ((ecx1 & (1u << 28)) && (ebx7 & (1u << 5)) && (xcr0 & 0x6) == 0x6) {
        level = 2;
        /* AVX512F (ebx 16) + AVX512BW (ebx 30) + opmask, ZMM_Hi256 and Hi16_ZMM state */
        if ((ebx7 & (1u << 16)) && (ebx7 & (1u << 30)) && (xcr0 & 0xE6) == 0xE6)
            level = 3;
    }
    /* SHA (leaf 7 ebx 29) + SSSE3 (leaf 1 ecx 9) + SSE4.1 (leaf 1 ecx 19) */
    has_sha = (ebx7 & (1u << 29)) && (ecx1 & (1u << 9)) && (ecx1 & (1u << 19));
    /* VBMI2 (leaf 7 ecx 6) + POPCNT (leaf 1 ecx 23); used at level avx512 only */
    has_vbmi2 = (ecx7 & (1u << 6)) && (ecx1 & (1u << 23));
    return level;
}
#else
static int detect(void)
{
    return LEVELS - 1; /* aarch64: NEON is baseline; elsewhere: scalar */
}
#endif

int wsc_cpu_level_count(void)
{
    return LEVELS;
}

const char *wsc_cpu_level_name(int level)
{
    return level >= 0 && level < LEVELS ? level_names[level] : NULL;
}

int wsc_cpu_level_index(const char *name)
{
    int i;
    for (i = 0; i < LEVELS; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

int wsc_cpu_best_level(void)
{
    if (best_level < 0)
        best_level = detect();
    return best_level;
}

int wsc_cpu_selected(void)
{
    return selected;
}

int wsc_cpu_select(int level)
{
    wsc_kernel_table t = WSC_SCALAR_TABLE;

    if (level < 0 || level > wsc_cpu_best_level())
        return -1;
    wsc_text_tables_init();
    t.level = t.text = level_names[level];
#if defined(WSC_X86_64)
    if (level >= 1) {
        t.mask = wsc_mask_sse2;
        t.utf8 = wsc_utf8_sse2;
        t.nogil_mask = 65536;
        WSC_TEXT_SELECT_SCAN(t, sse2); /* transcoding needs SSSE3 shuffles: scalar */
    }
    if (level >= 2) {
        t.mask = wsc_mask_avx2;
        t.utf8 = wsc_utf8_avx2;
        t.nogil_mask = 131072;
        t.nogil_utf8 = 32768;
        WSC_TEXT_SELECT(t, avx2);
        if (has_sha) {
            t.sha1 = "sha";
            t.sha1_compress = wsc_sha1_sha;
        }
    }
    if (level >= 3) {
        t.mask = wsc_mask_avx512;
        t.utf8 = wsc_utf8_avx512;
        WSC_TEXT_SELECT(t, avx512);
        if (has_vbmi2) {
            t.text = "avx512-vbmi2";
            t.text_encode = wsc_text_encode_vbmi2_avx512;
        }
    }
#elif defined(WSC_AARCH64)
    if (level >= 1) {
        t.mask = wsc_mask_neon;
        t.utf8 = wsc_utf8_neon;
        t.nogil_mask = 65536;
        t.nogil_utf8 = 16384;
        WSC_TEXT_SELECT_SCAN(t, neon); /* transcoding: scalar */
    }
#endif
    wsc_table = t;
    selected = level;
    return 0;
}
