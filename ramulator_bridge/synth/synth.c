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

void hs_markov_block(uint16_t *w, const uint8_t *inherit, uint8_t couple_thr,
                     const uint16_t *parent, const uint16_t *fresh, const uint16_t *fire0,
                     uint16_t keep_thr, uint8_t *state, int have_state, uint8_t *dest,
                     int64_t dest_stride, int64_t tokens, int64_t n)
{
    const int64_t nbytes = (n + 7) / 8;
    for (int64_t t = 0; t < tokens; t++) {
        uint16_t *row = w + t * n;
        if (inherit)
            blend_row(row, inherit + t * (n / 2), couple_thr, parent + t * n, n / 2);
        uint8_t *out = dest + t * dest_stride;
        const int first = (t == 0 && !have_state);
        const uint16_t *f = first ? fire0 : fresh;
        int64_t j = 0;
#ifdef __SSE2__
        const __m128i keep = _mm_set1_epi16((short)keep_thr);
        const __m128i zero = _mm_setzero_si128();
        for (; 8 * j + 16 <= n; j += 2) {
            __m128i w0 = _mm_loadu_si128((const __m128i *)(row + 8 * j));
            __m128i w1 = _mm_loadu_si128((const __m128i *)(row + 8 * j + 8));
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
        for (; j < nbytes; j++) {
            int64_t left = n - 8 * j;
            unsigned fires, redraw;
            bits8(row + 8 * j, f + 8 * j, keep_thr, left > 8 ? 8 : (int)left, &fires, &redraw);
            step(state, out, j, fires, redraw, first);
        }
    }
}
