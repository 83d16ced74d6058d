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

#endif
