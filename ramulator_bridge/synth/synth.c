/* Synthetic activation kernel (see synth.h). The chain loop has three paths, chosen per call:
 * AVX2 (x86 GCC/Clang, when the CPU has it), SSE2 (x86) and plain C; all give the same bits
 * (hs_set_simd_level forces a lower one; tests/workload compare them). */
#include "synth.h"

#include <string.h>
#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#define HS_SSE2 1
#include <emmintrin.h>
#endif
#if defined(HS_SSE2) && (defined(__GNUC__) || defined(__clang__)) && \
    (defined(__x86_64__) || defined(__i386__))
#define HS_AVX2 1 /* compiled with target("avx2"), run only if __builtin_cpu_supports says so */
#include <immintrin.h>
#endif

/* ---- the chain of one row (token): blend, compare, keep/redraw, pack, OR into the row ---- */

typedef struct {
    uint16_t *w;             /* the row's n uniforms, blended in place */
    const uint8_t *inherit;  /* n / 2 pair bytes, NULL: no coupling */
    const uint16_t *parent;  /* the parent's row (used with inherit) */
    const uint16_t *f;       /* fire thresholds: fire iff w < f */
    uint8_t *state;          /* packed chain state */
    uint8_t *out;            /* packed destination row (OR-ed) */
    int64_t n;
    uint16_t keep;           /* redraw iff w >= keep */
    uint8_t couple_thr;      /* inherit iff the pair's byte < couple_thr */
    int first;               /* first row without a state: state = fires */
} hs_row;

static inline uint32_t load32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline void store32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

/* blend pair k of a row with its parent: both lanes take the parent's lane 2k */
static void blend_row(uint16_t *row, const uint8_t *inherit, uint8_t couple_thr,
                      const uint16_t *parent, int64_t pairs)
{
    for (int64_t k = 0; k < pairs; k++) {
        uint32_t mask = (uint32_t)0 - (uint32_t)(inherit[k] < couple_thr);
        uint32_t par = (uint32_t)parent[2 * k] * 0x10001u;
        uint32_t own;
        memcpy(&own, row + 2 * k, 4);
        own = (own & ~mask) | (par & mask);
        memcpy(row + 2 * k, &own, 4);
    }
}

/* fires / redraw bits of up to 8 uniforms (bit k = element k) */
static void bits8(const uint16_t *w, const uint16_t *f, uint16_t keep, int count,
                  unsigned *fires, unsigned *redraw)
{
    unsigned a = 0, b = 0;
    for (int k = 0; k < count; k++) {
        a |= (unsigned)(w[k] < f[k]) << k;
        b |= (unsigned)(w[k] >= keep) << k;
    }
    *fires = a;
    *redraw = b;
}

static inline void step(uint8_t *state, uint8_t *out, int64_t j, unsigned fires,
                        unsigned redraw, int first)
{
    uint8_t s = first ? (uint8_t)fires : (uint8_t)((state[j] | redraw) & fires);
    state[j] = s;
    out[j] |= s;
}

/* plain C from state byte j on (blend from uniform 8 * j on): the tail of the vector paths */
static void row_c(const hs_row *r, int64_t j)
{
    const int64_t n = r->n, nbytes = (n + 7) / 8;
    if (r->inherit)
        blend_row(r->w + 8 * j, r->inherit + 4 * j, r->couple_thr, r->parent + 8 * j,
                  n / 2 - 4 * j);
    for (; j < nbytes; j++) {
        int64_t left = n - 8 * j;
        unsigned fires, redraw;
        bits8(r->w + 8 * j, r->f + 8 * j, r->keep, left > 8 ? 8 : (int)left, &fires, &redraw);
        step(r->state, r->out, j, fires, redraw, r->first);
    }
}

#ifdef HS_SSE2
/* blend_row for 8 pairs (16 uniforms, w0 = pairs 0-3, w1 = pairs 4-7) */
static inline void blend16(__m128i *w0, __m128i *w1, const uint8_t *inherit, __m128i thr8,
                           const uint16_t *parent)
{
    const __m128i zero = _mm_setzero_si128();
    const __m128i low16 = _mm_set1_epi32(0xFFFF);
    /* own = inherit byte >= thr (thr -sat byte == 0), widened to the pair's 32 bits */
    __m128i own = _mm_cmpeq_epi8(_mm_subs_epu8(thr8, _mm_loadl_epi64((const __m128i *)inherit)),
                                 zero);
    own = _mm_unpacklo_epi8(own, own);
    __m128i own0 = _mm_unpacklo_epi16(own, own), own1 = _mm_unpackhi_epi16(own, own);
    __m128i p0 = _mm_and_si128(_mm_loadu_si128((const __m128i *)parent), low16);
    __m128i p1 = _mm_and_si128(_mm_loadu_si128((const __m128i *)(parent + 8)), low16);
    p0 = _mm_or_si128(p0, _mm_slli_epi32(p0, 16)); /* both lanes take the parent's lane 2k */
    p1 = _mm_or_si128(p1, _mm_slli_epi32(p1, 16));
    *w0 = _mm_or_si128(_mm_and_si128(own0, *w0), _mm_andnot_si128(own0, p0));
    *w1 = _mm_or_si128(_mm_and_si128(own1, *w1), _mm_andnot_si128(own1, p1));
}

/* 16 uniforms (2 state bytes) a step; returns the state bytes done */
static int64_t row_sse2(const hs_row *r)
{
    const __m128i keep = _mm_set1_epi16((short)r->keep);
    const __m128i zero = _mm_setzero_si128();
    const __m128i thr8 = _mm_set1_epi8((char)r->couple_thr);
    uint16_t *row = r->w;
    const uint16_t *f = r->f;
    int64_t j = 0;
    for (; 8 * j + 16 <= r->n; j += 2) {
        __m128i w0 = _mm_loadu_si128((const __m128i *)(row + 8 * j));
        __m128i w1 = _mm_loadu_si128((const __m128i *)(row + 8 * j + 8));
        if (r->inherit) {
            blend16(&w0, &w1, r->inherit + 4 * j, thr8, r->parent + 8 * j);
            _mm_storeu_si128((__m128i *)(row + 8 * j), w0);
            _mm_storeu_si128((__m128i *)(row + 8 * j + 8), w1);
        }
        __m128i f0 = _mm_loadu_si128((const __m128i *)(f + 8 * j));
        __m128i f1 = _mm_loadu_si128((const __m128i *)(f + 8 * j + 8));
        /* unsigned compares: w < f <=> (f -sat w) != 0; w >= keep <=> (keep -sat w) == 0 */
        __m128i no_fire0 = _mm_cmpeq_epi16(_mm_subs_epu16(f0, w0), zero);
        __m128i no_fire1 = _mm_cmpeq_epi16(_mm_subs_epu16(f1, w1), zero);
        __m128i redraw0 = _mm_cmpeq_epi16(_mm_subs_epu16(keep, w0), zero);
        __m128i redraw1 = _mm_cmpeq_epi16(_mm_subs_epu16(keep, w1), zero);
        unsigned fires =
            ~(unsigned)_mm_movemask_epi8(_mm_packs_epi16(no_fire0, no_fire1)) & 0xFFFFu;
        unsigned redraw = (unsigned)_mm_movemask_epi8(_mm_packs_epi16(redraw0, redraw1));
        step(r->state, r->out, j, fires & 0xFFu, redraw & 0xFFu, r->first);
        step(r->state, r->out, j + 1, fires >> 8, redraw >> 8, r->first);
    }
    return j;
}
#endif

#ifdef HS_AVX2
/* 32 uniforms (4 state bytes) a step; returns the state bytes done. Unsigned 16-bit compares
 * as signed ones on values with the top bit flipped; the pair blend on 32-bit lanes. */
__attribute__((target("avx2"))) static int64_t row_avx2(const hs_row *r)
{
    const __m256i flip = _mm256_set1_epi16((short)0x8000);
    const __m256i keep = _mm256_set1_epi16((short)(r->keep ^ 0x8000u));
    const __m256i thr = _mm256_set1_epi32(r->couple_thr);
    const __m256i low16 = _mm256_set1_epi32(0xFFFF);
    uint16_t *row = r->w;
    const uint16_t *f = r->f;
    uint8_t *state = r->state, *out = r->out;
    int64_t j = 0;
    for (; 8 * j + 32 <= r->n; j += 4) {
        const int64_t e = 8 * j;
        __m256i w0 = _mm256_loadu_si256((const __m256i *)(row + e));
        __m256i w1 = _mm256_loadu_si256((const __m256i *)(row + e + 16));
        if (r->inherit) {
            /* pair k (32-bit lane k) takes the parent's lane 2k if its byte < couple_thr */
            const uint8_t *inh = r->inherit + 4 * j;
            __m256i take0 = _mm256_cmpgt_epi32(
                thr, _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)inh)));
            __m256i take1 = _mm256_cmpgt_epi32(
                thr, _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(inh + 8))));
            __m256i p0 = _mm256_and_si256(
                _mm256_loadu_si256((const __m256i *)(r->parent + e)), low16);
            __m256i p1 = _mm256_and_si256(
                _mm256_loadu_si256((const __m256i *)(r->parent + e + 16)), low16);
            p0 = _mm256_or_si256(p0, _mm256_slli_epi32(p0, 16));
            p1 = _mm256_or_si256(p1, _mm256_slli_epi32(p1, 16));
            w0 = _mm256_blendv_epi8(w0, p0, take0);
            w1 = _mm256_blendv_epi8(w1, p1, take1);
            _mm256_storeu_si256((__m256i *)(row + e), w0);
            _mm256_storeu_si256((__m256i *)(row + e + 16), w1);
        }
        __m256i s0 = _mm256_xor_si256(w0, flip), s1 = _mm256_xor_si256(w1, flip);
        __m256i fire0 = _mm256_cmpgt_epi16(
            _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(f + e)), flip), s0);
        __m256i fire1 = _mm256_cmpgt_epi16(
            _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(f + e + 16)), flip), s1);
        __m256i kept0 = _mm256_cmpgt_epi16(keep, s0), kept1 = _mm256_cmpgt_epi16(keep, s1);
        /* packs works per 128-bit lane: 0xD8 restores the element order */
        uint32_t fires = (uint32_t)_mm256_movemask_epi8(
            _mm256_permute4x64_epi64(_mm256_packs_epi16(fire0, fire1), 0xD8));
        uint32_t kept = (uint32_t)_mm256_movemask_epi8(
            _mm256_permute4x64_epi64(_mm256_packs_epi16(kept0, kept1), 0xD8));
        uint32_t s = r->first ? fires : (load32(state + j) | ~kept) & fires;
        store32(state + j, s);
        store32(out + j, load32(out + j) | s);
    }
    return j;
}
#endif

/* ---- which path runs ---- */

static int simd_request = HS_SIMD_BEST; /* hs_set_simd_level; see synth.h */

static int simd_best(void)
{
#ifdef HS_AVX2
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512ifma"))
        return HS_SIMD_IFMA;
    if (__builtin_cpu_supports("avx2"))
        return HS_SIMD_AVX2;
#endif
#ifdef HS_SSE2
    return HS_SIMD_SSE2;
#else
    return HS_SIMD_C;
#endif
}

int hs_simd_level(void)
{
    const int best = simd_best();
    return simd_request >= 0 && simd_request < best ? simd_request : best;
}

int hs_set_simd_level(int level)
{
    simd_request = level < 0 ? HS_SIMD_BEST : level;
    return hs_simd_level();
}

/* one row (or a segment of one: r->n from a multiple of 32 uniforms on) at the given level */
static void chain_row(const hs_row *r, int level)
{
    int64_t j = 0;
#ifdef HS_AVX2
    if (level >= HS_SIMD_AVX2)
        j = row_avx2(r);
#endif
#ifdef HS_SSE2
    if (level == HS_SIMD_SSE2)
        j = row_sse2(r);
#endif
    (void)level;
    row_c(r, j);
}

/* row t of a block whose rows are n uniforms, columns [c0, c1) (c0 a multiple of 32) */
static inline hs_row block_row(uint16_t *w, const uint8_t *inherit, uint8_t couple_thr,
                               const uint16_t *parent, const uint16_t *f, uint16_t keep_thr,
                               uint8_t *state, int first, uint8_t *out, int64_t t, int64_t n,
                               int64_t c0, int64_t c1)
{
    const hs_row r = {
        .w = w + t * n + c0,
        .inherit = inherit ? inherit + t * (n / 2) + c0 / 2 : NULL,
        .parent = inherit ? parent + t * n + c0 : NULL,
        .f = f + c0,
        .state = state + c0 / 8,
        .out = out + c0 / 8,
        .n = c1 - c0,
        .keep = keep_thr,
        .couple_thr = couple_thr,
        .first = first,
    };
    return r;
}

void hs_markov_block(uint16_t *w, const uint8_t *inherit, uint8_t couple_thr,
                     const uint16_t *parent, const uint16_t *fresh, const uint16_t *fire0,
                     uint16_t keep_thr, uint8_t *state, int have_state, uint8_t *dest,
                     int64_t dest_stride, int64_t tokens, int64_t n)
{
    const int level = hs_simd_level();
    for (int64_t t = 0; t < tokens; t++) {
        const int first = (t == 0 && !have_state);
        const hs_row r = block_row(w, inherit, couple_thr, parent, first ? fire0 : fresh,
                                   keep_thr, state, first, dest + t * dest_stride, t, n, 0, n);
        chain_row(&r, level);
    }
}

/* ---- numpy's PCG64: state = state * MUL + inc (mod 2^128), then output XSL-RR(state) ---- */

#define PCG_MUL_HI 0x2360ED051FC65DA4ull
#define PCG_MUL_LO 0x4385DF649FCCF645ull
#define PCG_LANES 4 /* interleaved generators (the LCG step is latency-bound) */

typedef struct {
    uint64_t hi, lo;
} u128;

#if defined(__SIZEOF_INT128__)
static inline u128 mul_add(u128 a, u128 m, u128 c)
{
    __uint128_t r = ((((__uint128_t)a.hi) << 64) | a.lo) * ((((__uint128_t)m.hi) << 64) | m.lo) +
                    ((((__uint128_t)c.hi) << 64) | c.lo);
    return (u128){(uint64_t)(r >> 64), (uint64_t)r};
}
#else
/* portable fallback: high 64 bits of a 64 x 64-bit product from 32-bit halves */
static inline uint64_t mulhi64(uint64_t a, uint64_t b)
{
    uint64_t a0 = a & 0xFFFFFFFFu, a1 = a >> 32, b0 = b & 0xFFFFFFFFu, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (p01 & 0xFFFFFFFFu) + (p10 & 0xFFFFFFFFu);
    return p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

static inline u128 mul_add(u128 a, u128 m, u128 c)
{
    uint64_t lo = a.lo * m.lo;
    uint64_t hi = mulhi64(a.lo, m.lo) + a.hi * m.lo + a.lo * m.hi;
    uint64_t sum = lo + c.lo;
    return (u128){hi + c.hi + (sum < lo), sum};
}
#endif

static inline uint64_t xsl_rr(u128 s)
{
    uint64_t x = s.hi ^ s.lo;
    unsigned r = (unsigned)(s.hi >> 58);
    return (x >> r) | (x << ((64u - r) & 63u));
}

static inline void put64(unsigned char *out, int64_t i, uint64_t v)
{
    memcpy(out + 8 * i, &v, 8); /* host byte order, as numpy's .view of the raws */
}

/* count raws into out (8 * count bytes); *s is left at the state of the last raw */
static void pcg_fill(u128 *s, u128 inc, unsigned char *out, int64_t count)
{
    const u128 m = {PCG_MUL_HI, PCG_MUL_LO};
    u128 cur = *s;
    int64_t i = 0;
    if (count >= 2 * PCG_LANES) {
        /* PCG_LANES interleaved generators (named variables, so they stay in registers):
         * lane j holds the state of raw i + j; a jump of PCG_LANES steps is s * ml + cl */
        const u128 zero = {0, 0};
        u128 ml = {0, 1}, cl = {0, 0};
        for (int j = 0; j < PCG_LANES; j++) {
            ml = mul_add(ml, m, zero);
            cl = mul_add(cl, m, inc);
        }
        u128 l0 = mul_add(cur, m, inc);
        u128 l1 = mul_add(l0, m, inc);
        u128 l2 = mul_add(l1, m, inc);
        u128 l3 = mul_add(l2, m, inc);
        for (;;) {
            put64(out, i, xsl_rr(l0));
            put64(out, i + 1, xsl_rr(l1));
            put64(out, i + 2, xsl_rr(l2));
            put64(out, i + 3, xsl_rr(l3));
            i += PCG_LANES;
            if (i + PCG_LANES > count)
                break;
            l0 = mul_add(l0, ml, cl);
            l1 = mul_add(l1, ml, cl);
            l2 = mul_add(l2, ml, cl);
            l3 = mul_add(l3, ml, cl);
        }
        cur = l3;
    }
    for (; i < count; i++) {
        cur = mul_add(cur, m, inc);
        put64(out, i, xsl_rr(cur));
    }
    *s = cur;
}

/* A generator's increment and, for the AVX-512 IFMA path, lane j's jump of j + 1 steps
 * (s -> s * mul[j] + add[j]) in 52-bit limbs (bits 0-51, 52-103, 104-127). */
#define IFMA_LANES 16 /* two vectors of 8 */

typedef struct {
    u128 inc;
    int ifma;
    uint64_t mul[3][IFMA_LANES], add[3][IFMA_LANES];
} pcg_ctx;

#define LIMB52 0xFFFFFFFFFFFFFull

static inline void to_limbs(u128 v, uint64_t limbs[3][IFMA_LANES], int j)
{
    limbs[0][j] = v.lo & LIMB52;
    limbs[1][j] = (v.lo >> 52) | ((v.hi & 0xFFFFFFFFFFull) << 12);
    limbs[2][j] = v.hi >> 40;
}

static void pcg_ctx_init(pcg_ctx *c, u128 inc, int level)
{
    const u128 m = {PCG_MUL_HI, PCG_MUL_LO}, zero = {0, 0};
    c->inc = inc;
    c->ifma = level >= HS_SIMD_IFMA;
    u128 mul = {0, 1}, add = {0, 0};
    for (int j = 0; j < IFMA_LANES; j++) {
        mul = mul_add(mul, m, zero);
        add = mul_add(add, m, inc);
        to_limbs(mul, c->mul, j);
        to_limbs(add, c->add, j);
    }
}

#ifdef HS_AVX2
/* s * mul + add (mod 2^128) of 8 generators in 52-bit limbs x0, x1, x2 (x2: 24 bits) */
__attribute__((target("avx512f,avx512ifma"))) static inline void
ifma_step(__m512i *x0, __m512i *x1, __m512i *x2, const __m512i m[3], const __m512i a[3])
{
    const __m512i low52 = _mm512_set1_epi64((long long)LIMB52);
    const __m512i low24 = _mm512_set1_epi64(0xFFFFFF);
    __m512i z0 = _mm512_madd52lo_epu64(a[0], *x0, m[0]);
    __m512i z1 = _mm512_madd52hi_epu64(a[1], *x0, m[0]);
    z1 = _mm512_madd52lo_epu64(z1, *x0, m[1]);
    z1 = _mm512_madd52lo_epu64(z1, *x1, m[0]);
    __m512i z2 = _mm512_madd52hi_epu64(a[2], *x0, m[1]);
    z2 = _mm512_madd52hi_epu64(z2, *x1, m[0]);
    z2 = _mm512_madd52lo_epu64(z2, *x0, m[2]);
    z2 = _mm512_madd52lo_epu64(z2, *x1, m[1]);
    z2 = _mm512_madd52lo_epu64(z2, *x2, m[0]);
    z1 = _mm512_add_epi64(z1, _mm512_srli_epi64(z0, 52));
    z2 = _mm512_add_epi64(z2, _mm512_srli_epi64(z1, 52));
    *x0 = _mm512_and_si512(z0, low52);
    *x1 = _mm512_and_si512(z1, low52);
    *x2 = _mm512_and_si512(z2, low24);
}

/* XSL-RR output of 8 generators */
__attribute__((target("avx512f,avx512ifma"))) static inline __m512i
ifma_output(__m512i x0, __m512i x1, __m512i x2)
{
    __m512i lo = _mm512_or_si512(x0, _mm512_slli_epi64(x1, 52));
    __m512i hi = _mm512_or_si512(_mm512_srli_epi64(x1, 12), _mm512_slli_epi64(x2, 40));
    return _mm512_rorv_epi64(_mm512_xor_si512(hi, lo), _mm512_srli_epi64(hi, 58));
}

/* pcg_fill with 16 interleaved generators (lane j: raw i + j) in AVX-512 IFMA; count >= 16.
 * Returns the raws written (a multiple of 16); *s is left at the state of the last one. */
__attribute__((target("avx512f,avx512ifma"))) static int64_t
pcg_fill_ifma(const pcg_ctx *c, u128 *s, unsigned char *out, int64_t count)
{
    __m512i m[2][3], a[2][3], jm[3], ja[3], x[2][3];
    uint64_t cur[3][IFMA_LANES];
    to_limbs(*s, cur, 0);
    for (int k = 0; k < 3; k++) {
        jm[k] = _mm512_set1_epi64((long long)c->mul[k][IFMA_LANES - 1]);
        ja[k] = _mm512_set1_epi64((long long)c->add[k][IFMA_LANES - 1]);
        for (int v = 0; v < 2; v++) {
            m[v][k] = _mm512_loadu_si512(c->mul[k] + 8 * v);
            a[v][k] = _mm512_loadu_si512(c->add[k] + 8 * v);
            x[v][k] = _mm512_set1_epi64((long long)cur[k][0]);
        }
    }
    for (int v = 0; v < 2; v++) /* lane j: j + 1 steps from *s */
        ifma_step(&x[v][0], &x[v][1], &x[v][2], m[v], a[v]);
    int64_t i = 0;
    for (;;) {
        _mm512_storeu_si512(out + 8 * i, ifma_output(x[0][0], x[0][1], x[0][2]));
        _mm512_storeu_si512(out + 8 * i + 64, ifma_output(x[1][0], x[1][1], x[1][2]));
        i += IFMA_LANES;
        if (i + IFMA_LANES > count)
            break;
        for (int v = 0; v < 2; v++)
            ifma_step(&x[v][0], &x[v][1], &x[v][2], jm, ja);
    }
    for (int k = 0; k < 3; k++)
        _mm512_storeu_si512(cur[k] + 8, x[1][k]);
    const uint64_t x0 = cur[0][15], x1 = cur[1][15], x2 = cur[2][15];
    *s = (u128){(x1 >> 12) | (x2 << 40), x0 | (x1 << 52)};
    return i;
}
#endif

/* count raws into out from the generator at *s (pcg_fill, or the IFMA path where c allows) */
static void pcg_draw(const pcg_ctx *c, u128 *s, unsigned char *out, int64_t count)
{
    int64_t done = 0;
#ifdef HS_AVX2
    if (c->ifma && count >= IFMA_LANES)
        done = pcg_fill_ifma(c, s, out, count);
#endif
    pcg_fill(s, c->inc, out + 8 * done, count - done);
}

void hs_pcg64_raw(uint64_t *pcg, uint64_t *out, int64_t count)
{
    u128 s = {pcg[0], pcg[1]};
    pcg_ctx c;
    pcg_ctx_init(&c, (u128){pcg[2], pcg[3]}, hs_simd_level());
    pcg_draw(&c, &s, (unsigned char *)out, count);
    pcg[0] = s.hi;
    pcg[1] = s.lo;
}

/* the state count steps after *s (numpy's PCG64 advance: square-and-multiply of the LCG) */
static u128 pcg_jump(u128 s, u128 inc, int64_t count)
{
    const u128 zero = {0, 0};
    u128 mul = {PCG_MUL_HI, PCG_MUL_LO}, add = inc;
    u128 acc_mul = {0, 1}, acc_add = {0, 0};
    for (uint64_t k = (uint64_t)count; k; k >>= 1) {
        if (k & 1) {
            acc_mul = mul_add(acc_mul, mul, zero);
            acc_add = mul_add(acc_add, mul, add);
        }
        add = mul_add(add, mul, add); /* add * (mul + 1) */
        mul = mul_add(mul, mul, zero);
    }
    return mul_add(s, acc_mul, acc_add);
}

/* ---- one request, every chunk and block (see synth.h) ---- */

/* Uniforms are drawn and chained in segments of a row (so a segment's uniforms are still in
 * the L1 cache when the chain reads them): the uniforms' raws and the inherit bytes' raws come
 * from two copies of the generator, the second jumped to where the inherit raws start. */
#define SEGMENT 4096 /* uniforms; a multiple of 32 */

int64_t hs_synth_request(uint64_t *pcg, const hs_block *blocks, int64_t nblocks,
                         uint16_t keep_thr, uint8_t couple_thr, uint8_t *dest,
                         int64_t dest_stride, int64_t tokens, int64_t chunk, uint16_t *scratch,
                         int64_t slot_elems, uint8_t *inherit_scratch)
{
    const int level = hs_simd_level();
    u128 s = {pcg[0], pcg[1]};
    const u128 inc = {pcg[2], pcg[3]};
    pcg_ctx gen;
    pcg_ctx_init(&gen, inc, level);
    int64_t drawn = 0;
    for (int64_t t0 = 0; t0 < tokens; t0 += chunk) {
        const int64_t n_tok = tokens - t0 < chunk ? tokens - t0 : chunk;
        for (int64_t b = 0; b < nblocks; b++) {
            const hs_block *blk = &blocks[b];
            const int64_t n = blk->count, elems = n_tok * n;
            uint16_t *w = scratch + blk->slot * slot_elems;
            const int64_t w_raws = (elems + 3) / 4;
            const int64_t i_raws = blk->parent >= 0 ? (elems + 15) / 16 : 0;
            const uint16_t *parent =
                blk->parent >= 0 ? scratch + blocks[blk->parent].slot * slot_elems : NULL;
            const uint8_t *inherit = parent ? inherit_scratch : NULL;
            u128 s_inherit = parent ? pcg_jump(s, inc, w_raws) : s;
            int64_t w_done = 0, i_done = 0; /* raws drawn so far */
            uint8_t *out = dest + t0 * dest_stride + blk->dest_offset;
            for (int64_t t = 0; t < n_tok; t++) {
                const int first = (t0 == 0 && t == 0);
                const uint16_t *f = first ? blk->fire0 : blk->fresh;
                for (int64_t c0 = 0; c0 < n; c0 += SEGMENT) {
                    const int64_t c1 = n - c0 > SEGMENT ? c0 + SEGMENT : n;
                    const int64_t w_need = (t * n + c1 + 3) / 4;
                    pcg_draw(&gen, &s, (unsigned char *)(w + 4 * w_done), w_need - w_done);
                    w_done = w_need;
                    if (parent) {
                        const int64_t i_need = (t * (n / 2) + c1 / 2 + 7) / 8;
                        pcg_draw(&gen, &s_inherit, inherit_scratch + 8 * i_done, i_need - i_done);
                        i_done = i_need;
                    }
                    const hs_row r = block_row(w, inherit, couple_thr, parent, f, keep_thr,
                                               blk->state, first, out + t * dest_stride, t, n,
                                               c0, c1);
                    chain_row(&r, level);
                }
            }
            if (parent) { /* (odd n: the rows' pairs leave the last raw undrawn) */
                pcg_draw(&gen, &s_inherit, inherit_scratch + 8 * i_done, i_raws - i_done);
                s = s_inherit;
            }
            drawn += w_raws + i_raws;
        }
    }
    pcg[0] = s.hi;
    pcg[1] = s.lo;
    return drawn;
}
