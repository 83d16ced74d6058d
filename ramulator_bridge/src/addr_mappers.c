/* addr_mappers.c: physical address -> (channel, rank, bankgroup, bank, row, column). Each mapper
 * takes the transaction index (address >> log2(transaction bytes)) and slices bit fields from the
 * least significant end. Field widths are log2 of the organisation counts (sys->addr_bits). */
#include "engine_internal.h"

enum { CH, RA, BG, BA, RO, CO };

static int32_t take(uint64_t *x, int bits) {
    int32_t v = (int32_t)(*x & ((1ULL << bits) - 1));
    *x >>= bits;
    return v;
}

/* RoBaRaCoCh (Ramulator2): channel, column, rank, bankgroup, bank, row (LSB first). */
static void map_robaracoch(const hd_system *s, uint64_t x, int32_t *v) {
    const int *w = s->addr_bits;
    v[CH] = take(&x, w[CH]);
    v[CO] = take(&x, w[CO]);
    v[RA] = take(&x, w[RA]);
    v[BG] = take(&x, w[BG]);
    v[BA] = take(&x, w[BA]);
    v[RO] = take(&x, w[RO]);
}

/* ChRaBaRoCo (Ramulator2): column, row, bank, bankgroup, rank, channel (LSB first). */
static void map_chrabaroco(const hd_system *s, uint64_t x, int32_t *v) {
    const int *w = s->addr_bits;
    for (int l = CO; l >= CH; l--) v[l] = take(&x, w[l]);
}

/* RoCoBaRaCh: channel, rank, bankgroup, bank, column, row (LSB first): consecutive lines rotate
 * over channels, then ranks, then bank groups and banks, so streams spread over all banks. */
static void map_rocobarach(const hd_system *s, uint64_t x, int32_t *v) {
    const int *w = s->addr_bits;
    v[CH] = take(&x, w[CH]);
    v[RA] = take(&x, w[RA]);
    v[BG] = take(&x, w[BG]);
    v[BA] = take(&x, w[BA]);
    v[CO] = take(&x, w[CO]);
    v[RO] = take(&x, w[RO]);
}

/* MOP4CLXOR (Ramulator2 v2.0a): 4 lines of a row, then channel, rank, bankgroup, bank, the rest of
 * the column, then the row; channel..row fields are XORed with successive column bits, exactly
 * as v2.0a does (it XORs with the column field). */
static void map_mop4clxor(const hd_system *s, uint64_t x, int32_t *v) {
    const int *w = s->addr_bits;
    int low = w[CO] < 2 ? w[CO] : 2;
    v[CO] = take(&x, low);
    for (int l = CH; l < RO; l++) v[l] = take(&x, w[l]);
    v[CO] += take(&x, w[CO] - low) << low;
    v[RO] = (int32_t)x;
    int shift = 0;
    for (int l = CH; l < CO; l++) {
        if (w[l] > 0) {
            v[l] ^= (v[CO] >> shift) & ((1 << w[l]) - 1);
            shift += w[l];
        }
    }
}

const hd_mapper_impl hd_mapper_robaracoch = {"RoBaRaCoCh", map_robaracoch};
const hd_mapper_impl hd_mapper_chrabaroco = {"ChRaBaRoCo", map_chrabaroco};
const hd_mapper_impl hd_mapper_rocobarach = {"RoCoBaRaCh", map_rocobarach};
const hd_mapper_impl hd_mapper_mop4clxor = {"MOP4CLXOR", map_mop4clxor};
