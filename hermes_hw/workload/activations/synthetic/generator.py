"""The synthetic activation source, calibrated per model (``activity:`` in the model YAML).

Mechanism (all draws from one seeded ``numpy.random.Generator`` per request):

* Frequencies: each block gets a capped power law (``calibration.solve_power_law``) with the
  block's mean active fraction from the depth profile and the target concentration. Each request
  (sequence) jitters the ranks (log-rank noise ``sequence_rank_jitter``, one perturbation per
  request shared by all layers), so hot sets of different sequences overlap by ~90%
  (PowerInfer sec. 3.1) rather than 100%.
* Token persistence: per token a neuron keeps its previous state with probability ``q``, else
  redraws Bernoulli(p). Both choices use one uniform ``w``: keep if ``w < q``, else fire iff
  ``w < q + (1 - q) p``.
* Layer correlation: neuron ``k`` of layer ``l`` has the parent ``2 * (k // 2)`` in the same-kind
  block of layer ``l - 1`` (internal order = base frequency rank, so parents have the same
  frequency rank). With probability ``layer_coupling`` a neuron re-uses its parent's ``w`` of the
  same token, so it makes the same keep/redraw decision and, with a similar frequency, the same
  firing decision. Siblings ``2i`` and ``2i + 1`` share a parent, so every neuron has two
  correlated neurons in the previous layer (the paper's top-2 correlation table). Re-using a
  uniform keeps each neuron's own marginal process unchanged, so the frequency and persistence
  targets hold exactly whatever the coupling.

Generation: one C call per request (``ramulator_bridge/synth``, ``hs_synth_request``) draws the
uniforms with its own copy of numpy's PCG64 (the same raws, in the same order, as
``bit_generator.random_raw``; numpy's generator is then advanced by the drawn count) and runs
each block's per-token chain (coupling blend, keep/redraw, bit packing) in one pass over the
uniforms, drawing and chaining a row in L1-sized segments, reusing the thread's scratch buffers.
The chain loop uses AVX2 where the CPU has it, else SSE2 or plain C, and the draws AVX-512 IFMA
where the CPU has it (all give the same bits; ``hs_set_simd_level`` in
ramulator_bridge/synth/synth.h forces a lower path); tests/workload
check every path against the rule above element by element, the paths against each other, its
PCG64 against numpy's and the trace against the numpy-raws path.
Requests run in up to ``_MAX_THREADS`` threads (the C call releases the GIL), each OR-ing into
its own buffer, so the trace does not depend on the thread count.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from hermes_hw.errors import InputError
from hermes_hw.workload.activations.base import (
    ActivationSource,
    ActivationTrace,
    BlockLayout,
    register_source,
)
from hermes_hw.workload.activations.synthetic.calibration import (
    discrete_frequencies,
    persistence_from_targets,
    piecewise,
    solve_power_law,
)
from hermes_hw.workload.models.spec import ActivityProfile, ModelSpec
from ramulator_bridge import synth_lib

_SCALE = 65536  # uniforms are uint16: resolution 1/65536
_CHUNK_ELEMENTS = 1 << 20  # tokens x neurons per generation step (keeps arrays in cache)
_MAX_THREADS = 4  # requests generated concurrently (each thread keeps its own bit buffer)
_EXTRA_BUFFER_BYTES = 256 << 20  # memory the threads' extra bit buffers may take together
_LOW64 = (1 << 64) - 1


@dataclass(frozen=True)
class _ChainParams:
    """What every request's chain shares (thresholds in uint16 / uint8 fixed point)."""

    base: list[np.ndarray]  # per-block base frequencies, internal (rank) order
    q: float                # persistence: probability of keeping the previous state
    keep_thr: np.uint16     # keep if w < keep_thr
    couple_thr: np.uint8    # inherit the parent's uniform if the pair's byte < couple_thr
    coupled: bool           # layer_coupling > 0
    jitter: float           # sequence_rank_jitter (log-rank noise per request)
    chunk: int              # tokens per generation step
    parents: list[int]      # per block: the block whose uniforms its pairs may inherit, or -1
    slots: list[int]        # per block: its scratch slot (never its parent's slot)
    fire0: list[np.ndarray]  # per block, rank order: first-token fire thresholds (uint16)
    fresh: list[np.ndarray]  # per block, rank order: redraw fire thresholds (uint16)


def _coupling_plan(model: ModelSpec, coupled: bool) -> tuple[list[int], list[int]]:
    """Parent and scratch slot of every block. A block's parent is the previous block of the
    same kind if coupling is on, both have the same size and the size is even; blocks of one
    kind alternate between two slots, so a parent's uniforms survive until its child."""
    parents, slots = [], []
    last: dict[str, int] = {}
    kinds: dict[str, int] = {}
    seen: dict[str, int] = {}
    for b, g in enumerate(model.blocks):
        prev = last.get(g.kind)
        ok = coupled and prev is not None and model.blocks[prev].count == g.count \
            and g.count % 2 == 0
        parents.append(prev if ok else -1)
        kind = kinds.setdefault(g.kind, len(kinds))
        slots.append(2 * kind + seen.get(g.kind, 0) % 2)
        seen[g.kind] = seen.get(g.kind, 0) + 1
        last[g.kind] = b
    return parents, slots


class _Scratch:
    """One thread's buffers for hs_synth_request (reused by all its requests)."""

    def __init__(self, ffi, chunk: int, max_count: int, slots: int) -> None:
        elems = chunk * max_count
        self.slot_elems = 4 * -(-elems // 4)
        self._uniforms = np.empty(slots * self.slot_elems, np.uint16)
        self._inherit = np.empty(8 * -(-elems // 16), np.uint8)
        self.uniforms = ffi.from_buffer("uint16_t[]", self._uniforms)
        self.inherit = ffi.from_buffer("uint8_t[]", self._inherit)


def block_targets(model: ModelSpec, profile: ActivityProfile) -> np.ndarray:
    """Mean active fraction of every block (model.blocks order)."""
    n = model.num_layers
    att = piecewise([b.depth for b in profile.attention_active_fraction],
                    [b.value for b in profile.attention_active_fraction], n)
    mlp = piecewise([b.depth for b in profile.mlp_active_fraction],
                    [b.value for b in profile.mlp_active_fraction], n)
    return np.array([att[g.layer] if g.kind == "attention" else mlp[g.layer]
                     for g in model.blocks])


def _smooth_over_jitter(p_sorted: np.ndarray, sigma: float) -> np.ndarray:
    """Expected frequency at each base rank over sequences (Gauss-Hermite over the jitter)."""
    if sigma == 0:
        return p_sorted.copy()
    n = len(p_sorted)
    log_rank = np.log(np.arange(n) + 1.0)
    nodes, weights = np.polynomial.hermite_e.hermegauss(8)
    weights = weights / weights.sum()
    out = np.zeros(n)
    for z, wt in zip(nodes, weights, strict=True):
        out += wt * np.interp(log_rank + sigma * z, log_rank, p_sorted)
    return out


@register_source("synthetic")
class SyntheticSource(ActivationSource):
    """Calibrated synthetic activations (see the module docstring and docs/workload.md).

    ``profile`` overrides the model's ``activity:`` block; ``mlp_frequencies`` (one array per
    layer, e.g. imported PowerInfer counts) replaces the power law of the MLP blocks.
    """

    def __init__(
        self,
        profile: ActivityProfile | None = None,
        mlp_frequencies: list[np.ndarray] | None = None,
    ) -> None:
        self.profile = profile
        self.mlp_frequencies = mlp_frequencies

    # -- calibration -------------------------------------------------------------------------
    def _profile(self, model: ModelSpec) -> ActivityProfile:
        profile = self.profile or model.config.activity
        if profile is None:
            raise InputError(
                f"model '{model.id}' has no 'activity:' calibration, so the synthetic source "
                "cannot be used; add one (see configs/models/llama2-70b.yaml) or import masks"
            )
        return profile

    def base_frequencies(self, model: ModelSpec) -> list[np.ndarray]:
        """Per-block within-sequence frequencies, sorted descending (internal order)."""
        profile = self._profile(model)
        means = block_targets(model, profile)
        x0, s = solve_power_law(means, np.full(len(means), profile.concentration),
                                profile.max_frequency)
        out = []
        for b, g in enumerate(model.blocks):
            if g.kind == "mlp" and self.mlp_frequencies is not None:
                out.append(np.sort(np.clip(self.mlp_frequencies[g.layer], 0, 1))[::-1].copy())
            else:
                out.append(discrete_frequencies(g.count, means[b], x0[b], s[b],
                                                profile.max_frequency))
        return out

    # -- generation --------------------------------------------------------------------------
    def trace(
        self, model: ModelSpec, *, prompt_tokens: int, decode_tokens: int, batch: int = 1,
        seed: int = 0,
    ) -> ActivationTrace:
        profile = self._profile(model)
        tokens = prompt_tokens + decode_tokens
        if tokens < 1 or batch < 1:
            raise InputError(f"need at least one token and one request (got {tokens}, {batch})")
        layout = BlockLayout.for_model(model)
        base = self.base_frequencies(model)
        q = persistence_from_targets(profile.adjacent_overlap, profile.concentration)
        keep_thr = np.uint16(min(round(q * _SCALE), _SCALE - 1))
        couple_thr = np.uint8(min(round(profile.layer_coupling * 256), 255))
        bits = np.zeros((tokens, layout.total_bits // 8), dtype=np.uint8)

        def side() -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
            """What the trace carries besides the bits (independent of the draws: its own
            generator), computed in a thread while the requests are generated."""
            id_rng = np.random.default_rng([seed, 0x1D])
            ids = [id_rng.permutation(g.count).astype(np.int32) for g in model.blocks]
            return (ids, self._offline(model, layout, base, profile),
                    self._candidates(model, layout))

        side_pool = ThreadPoolExecutor(1)
        side_result = side_pool.submit(side)

        chunk = max(1, min(tokens, _CHUNK_ELEMENTS // max(g.count for g in model.blocks)))
        parents, slots = _coupling_plan(model, profile.layer_coupling > 0)
        # thresholds of every base rank: elementwise, so a request permutes them (the same
        # values as computing them from its permuted frequencies)
        fire0 = [np.minimum(np.floor(p * _SCALE), _SCALE - 1).astype(np.uint16) for p in base]
        fresh = [np.minimum(np.floor((q + (1 - q) * p) * _SCALE), _SCALE - 1).astype(np.uint16)
                 for p in base]
        chain = _ChainParams(fire0=fire0, fresh=fresh,
                             base=base, q=q, keep_thr=keep_thr, couple_thr=couple_thr,
                             coupled=profile.layer_coupling > 0,
                             jitter=profile.sequence_rank_jitter, chunk=chunk,
                             parents=parents, slots=slots)
        # requests are independent (one generator each) and their bits are OR-ed, so the result
        # does not depend on how requests are split over threads (numpy's draws and the C
        # kernel release the GIL)
        workers = min(batch, os.cpu_count() or 1, _MAX_THREADS,
                      1 + _EXTRA_BUFFER_BYTES // max(1, bits.nbytes))
        buffers = [bits] + [np.zeros_like(bits) for _ in range(workers - 1)]

        def run(worker: int) -> None:
            scratch = _Scratch(synth_lib()[0], chunk, max(g.count for g in model.blocks),
                               max(slots) + 1)
            for request in range(worker, batch, workers):
                self._request_bits(model, layout, chain, seed, request, buffers[worker],
                                   scratch)

        try:
            if workers == 1:
                run(0)
            else:
                with ThreadPoolExecutor(workers) as pool:
                    list(pool.map(run, range(workers)))
                for extra in buffers[1:]:
                    bits |= extra
            neuron_ids, offline, candidates = side_result.result()
        finally:
            side_pool.shutdown(wait=True)
        return ActivationTrace(
            model=model,
            layout=layout,
            bits=bits,
            prompt_tokens=prompt_tokens,
            batch=batch,
            neuron_ids=neuron_ids,
            offline_frequencies=offline,
            partner_candidates=candidates,
            source="synthetic",
            meta={"persistence_q": q, "layer_coupling": profile.layer_coupling,
                  "block_targets": block_targets(model, profile)},
        )

    def _request_bits(self, model: ModelSpec, layout: BlockLayout, chain: _ChainParams,
                      seed: int, request: int, bits: np.ndarray, scratch: _Scratch) -> None:
        """OR one request's activations (every block, every token) into ``bits``.

        Draw order of the request's generator: the rank jitter (``_sequence_order``), then per
        chunk of tokens, per block, ``ceil(tokens * n / 4)`` raws as the block's uint16 uniforms
        and, for a coupled block, ``ceil(tokens * n / 16)`` raws as its inherit bytes. The C
        kernel draws them with its own copy of numpy's PCG64 (``hs_synth_request``); numpy's
        generator is then advanced by the same count, so it stays in step."""
        ffi, lib = synth_lib()
        rng = np.random.default_rng([seed, request])
        orders: dict[tuple[str, int], np.ndarray] = {}
        keep = []  # arrays (and their cffi views) the block table points into
        blocks = ffi.new("hs_block[]", len(model.blocks))
        for b, g in enumerate(model.blocks):
            # one rank perturbation per request and kind, shared by all layers, so a neuron
            # and its previous-layer parent keep the same rank in this sequence
            key = (g.kind, g.count)
            if key not in orders:
                orders[key] = self._sequence_order(g.count, chain.jitter, rng)
            fire0 = np.empty(g.count, np.uint16)
            fire0[orders[key]] = chain.fire0[b]
            fresh = np.empty(g.count, np.uint16)
            fresh[orders[key]] = chain.fresh[b]
            state = np.zeros((g.count + 7) // 8, np.uint8)
            views = [ffi.from_buffer("uint16_t[]", fresh), ffi.from_buffer("uint16_t[]", fire0),
                     ffi.from_buffer("uint8_t[]", state)]
            keep.append(views)
            blk = blocks[b]
            blk.count = g.count
            blk.parent = chain.parents[b]
            blk.slot = chain.slots[b]
            blk.dest_offset = int(layout.byte_offsets[b])
            blk.fresh, blk.fire0, blk.state = views
        raw = rng.bit_generator.state["state"]
        pcg = ffi.new("uint64_t[4]", [raw["state"] >> 64, raw["state"] & _LOW64,
                                      raw["inc"] >> 64, raw["inc"] & _LOW64])
        tokens, stride = bits.shape
        drawn = lib.hs_synth_request(
            pcg, blocks, len(model.blocks), int(chain.keep_thr), int(chain.couple_thr),
            ffi.from_buffer("uint8_t[]", bits), stride, tokens, chain.chunk,
            scratch.uniforms, scratch.slot_elems, scratch.inherit)
        rng.bit_generator.advance(drawn)

    @staticmethod
    def _sequence_order(n: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
        """Base ranks in this sequence's frequency order (log-rank noise ``sigma``)."""
        if sigma == 0:
            return np.arange(n)
        key = np.log(np.arange(n) + 1.0) + sigma * rng.standard_normal(n)
        return np.argsort(key, kind="stable")

    @staticmethod
    def _offline(model, layout, base, profile) -> np.ndarray:
        freqs = np.zeros(layout.total_bits, dtype=np.float32)
        for b in range(len(model.blocks)):
            freqs[layout.block_slice(b)] = _smooth_over_jitter(base[b],
                                                               profile.sequence_rank_jitter)
        return freqs

    @staticmethod
    def _candidates(model: ModelSpec, layout: BlockLayout) -> np.ndarray:
        """Previous-layer candidates of each neuron: its parent pair (flat ids; -1 = none)."""
        cand = np.full((layout.total_bits, 2), -1, dtype=np.int32)
        last: dict[str, int] = {}
        for b, g in enumerate(model.blocks):
            if g.kind in last and model.blocks[last[g.kind]].count == g.count:
                pair = 2 * (np.arange(g.count) // 2)
                start = int(layout.bit_offsets[last[g.kind]])
                for c in (0, 1):
                    idx = pair + c
                    cand[layout.block_slice(b), c] = np.where(idx < g.count, start + idx, -1)
            last[g.kind] = b
        return cand
