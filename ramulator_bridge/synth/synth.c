/* Synthetic activation kernel (see synth.h). SSE2 where available, plain C otherwise. */
#include "synth.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

#ifdef __SSE2__
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
#endif

void hs_markov_block(uint16_t *w, const uint8_t *inherit, uint8_t couple_thr,
                     const uint16_t *parent, const uint16_t *fresh, const uint16_t *fire0,
                     uint16_t keep_thr, uint8_t *state, int have_state, uint8_t *dest,
                     int64_t dest_stride, int64_t tokens, int64_t n)
{
    const int64_t nbytes = (n + 7) / 8;
    for (int64_t t = 0; t < tokens; t++) {
        uint16_t *row = w + t * n;
        const uint8_t *row_inherit = inherit ? inherit + t * (n / 2) : NULL;
        const uint16_t *row_parent = inherit ? parent + t * n : NULL;
        uint8_t *out = dest + t * dest_stride;
        const int first = (t == 0 && !have_state);
        const uint16_t *f = first ? fire0 : fresh;
        int64_t j = 0;
#ifdef __SSE2__
        const __m128i keep = _mm_set1_epi16((short)keep_thr);
        const __m128i zero = _mm_setzero_si128();
        const __m128i thr8 = _mm_set1_epi8((char)couple_thr);
        for (; 8 * j + 16 <= n; j += 2) {
            __m128i w0 = _mm_loadu_si128((const __m128i *)(row + 8 * j));
            __m128i w1 = _mm_loadu_si128((const __m128i *)(row + 8 * j + 8));
            if (row_inherit) {
                blend16(&w0, &w1, row_inherit + 4 * j, thr8, row_parent + 8 * j);
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
            step(state, out, j, fires & 0xFFu, redraw & 0xFFu, first);
            step(state, out, j + 1, fires >> 8, redraw >> 8, first);
        }
#endif
        if (row_inherit) /* the pairs the vector loop left (from uniform 8 * j on) */
            blend_row(row + 8 * j, row_inherit + 4 * j, couple_thr, row_parent + 8 * j,
                      n / 2 - 4 * j);
        for (; j < nbytes; j++) {
            int64_t left = n - 8 * j;
            unsigned fires, redraw;
            bits8(row + 8 * j, f + 8 * j, keep_thr, left > 8 ? 8 : (int)left, &fires, &redraw);
            step(state, out, j, fires, redraw, first);
        }
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

void hs_pcg64_raw(uint64_t *pcg, uint64_t *out, int64_t count)
{
    u128 s = {pcg[0], pcg[1]};
    const u128 inc = {pcg[2], pcg[3]};
    pcg_fill(&s, inc, (unsigned char *)out, count);
    pcg[0] = s.hi;
    pcg[1] = s.lo;
}

/* ---- one request, every chunk and block (see synth.h) ---- */

int64_t hs_synth_request(uint64_t *pcg, const hs_block *blocks, int64_t nblocks,
                         uint16_t keep_thr, uint8_t couple_thr, uint8_t *dest,
                         int64_t dest_stride, int64_t tokens, int64_t chunk, uint16_t *scratch,
                         int64_t slot_elems, uint8_t *inherit_scratch)
{
    u128 s = {pcg[0], pcg[1]};
    const u128 inc = {pcg[2], pcg[3]};
    int64_t drawn = 0;
    for (int64_t t0 = 0; t0 < tokens; t0 += chunk) {
        const int64_t n_tok = tokens - t0 < chunk ? tokens - t0 : chunk;
        for (int64_t b = 0; b < nblocks; b++) {
            const hs_block *blk = &blocks[b];
            const int64_t elems = n_tok * blk->count;
            uint16_t *w = scratch + blk->slot * slot_elems;
            const int64_t w_raws = (elems + 3) / 4;
            pcg_fill(&s, inc, (unsigned char *)w, w_raws);
            drawn += w_raws;
            const uint16_t *parent = NULL;
            const uint8_t *inherit = NULL;
            if (blk->parent >= 0) {
                const int64_t i_raws = (elems + 15) / 16;
                pcg_fill(&s, inc, inherit_scratch, i_raws);
                drawn += i_raws;
                parent = scratch + blocks[blk->parent].slot * slot_elems;
                inherit = inherit_scratch;
            }
            hs_markov_block(w, inherit, couple_thr, parent, blk->fresh, blk->fire0, keep_thr,
                            blk->state, t0 > 0, dest + t0 * dest_stride + blk->dest_offset,
                            dest_stride, n_tok, blk->count);
        }
    }
    pcg[0] = s.hi;
    pcg[1] = s.lo;
    return drawn;
}
