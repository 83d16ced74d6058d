/* Synthetic activation kernel: one block's keep-or-redraw Markov chain over a chunk of tokens.
 *
 * The numpy reference is hermes_hw.workload.activations.synthetic.generator (SyntheticSource
 * _uniforms + _markov); this kernel gives byte-identical results (tests/workload). */
#ifndef HERMES_SYNTH_H
#define HERMES_SYNTH_H

#include <stdint.h>

/* w: tokens x n uniforms (uint16, row-major), blended in place with the parent's uniforms:
 *    for pair k of row t, if inherit[t * n/2 + k] < couple_thr both lanes take parent's lane 2k
 *    (inherit == NULL: no coupling; n must be even otherwise).
 * Per neuron i: fires = w < fresh[i], redraw = w >= keep_thr; state = (state | redraw) & fires,
 *    except on the first row when have_state == 0: state = w < fire0[i].
 * state: (n + 7) / 8 packed bytes (bit order little), updated to the last row's state.
 * dest: row t receives |= the packed state of token t; rows are dest_stride bytes apart. */
void hs_markov_block(uint16_t *w, const uint8_t *inherit, uint8_t couple_thr,
                     const uint16_t *parent, const uint16_t *fresh, const uint16_t *fire0,
                     uint16_t keep_thr, uint8_t *state, int have_state, uint8_t *dest,
                     int64_t dest_stride, int64_t tokens, int64_t n);

/* The kernels' instruction set: hs_markov_block (and hs_synth_request) use the best of AVX2
 * (x86 with GCC or Clang, if the CPU has it), SSE2 (x86) and plain C for the chain loop, and
 * the PCG64 draws use AVX-512 IFMA where the CPU has it (else plain 64-bit code), or the level
 * last given to hs_set_simd_level if that is lower; every level gives the same bits. Set the
 * level before starting kernels in other threads (tests use it to compare the paths). */
#define HS_SIMD_BEST -1
#define HS_SIMD_C 0
#define HS_SIMD_SSE2 1
#define HS_SIMD_AVX2 2
#define HS_SIMD_IFMA 3 /* AVX2 chain, PCG64 draws in AVX-512 IFMA (hs_pcg64_raw too) */

/* Request a level (HS_SIMD_BEST or any negative: the best the CPU runs); returns the level in
 * effect, which is lower than the request where this build or CPU lacks it. */
int hs_set_simd_level(int level);

/* The level hs_markov_block runs now. */
int hs_simd_level(void);

/* numpy's PCG64 bit generator (numpy.random.PCG64, 128-bit LCG + XSL-RR output).
 * pcg: {state_hi, state_lo, inc_hi, inc_lo}, as bit_generator.state['state'] splits them;
 * writes count raws to out exactly as bit_generator.random_raw(count) and leaves pcg at the
 * state numpy has afterwards. */
void hs_pcg64_raw(uint64_t *pcg, uint64_t *out, int64_t count);

/* One block of a request (see hs_synth_request). */
typedef struct {
    int64_t count;          /* neurons */
    int64_t parent;         /* earlier block whose uniforms pairs may inherit; -1: no coupling */
    int64_t slot;           /* scratch slot of this block's uniforms (parent's slot differs) */
    int64_t dest_offset;    /* byte offset of the block's bits in a token row */
    const uint16_t *fresh;  /* count thresholds: fire on a redraw if w < fresh */
    const uint16_t *fire0;  /* count thresholds: fire on the first token if w < fire0 */
    uint8_t *state;         /* (count + 7) / 8 packed bytes, the chain's state */
} hs_block;

/* One request: for each chunk of `chunk` tokens (the last may be shorter), for each block in
 * order, draw ceil(tokens * count / 4) raws as the block's uint16 uniforms, then, if the block
 * has a parent, ceil(tokens * count / 16) raws as its inherit bytes, and run hs_markov_block
 * (have_state from the second chunk on) into dest + t0 * dest_stride + dest_offset.
 * scratch: slots * slot_elems uint16 (slot_elems >= 4 * ceil(chunk * max count / 4));
 * inherit_scratch: 8 * ceil(chunk * max count / 16) bytes.
 * Returns the number of raws drawn (pcg is advanced by that many). */
int64_t hs_synth_request(uint64_t *pcg, const hs_block *blocks, int64_t nblocks,
                         uint16_t keep_thr, uint8_t couple_thr, uint8_t *dest,
                         int64_t dest_stride, int64_t tokens, int64_t chunk, uint16_t *scratch,
                         int64_t slot_elems, uint8_t *inherit_scratch);

#endif
