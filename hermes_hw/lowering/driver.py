"""Run the lowering end to end: work lists -> layout -> per-DIMM ops/segments -> trace dir."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from hermes_hw import __version__
from hermes_hw.errors import InputError
from hermes_hw.layout.base import DimmGeometry
from hermes_hw.layout.model_layout import ModelLayout
from hermes_hw.lowering.lower import lower_token
from hermes_hw.lowering.trace import TraceWriter
from hermes_hw.lowering.work import TokenInput, collect_homes, from_token_work
from hermes_hw.ndp.config import NdpSystemConfig


def workload_tokens(model, *, tokens: int, prompt_tokens: int, batch: int, seed: int,
                    n_dimms: int, placement: str = "greedy",
                    source: str = "synthetic") -> Callable[[], Iterator[TokenInput]]:
    """A factory of token inputs from the workload pipeline (each call re-runs it; the run is
    deterministic for a seed, so two calls give the same work lists). The activation trace is
    generated on the first call and reused by the next (the same trace the pipeline would
    generate again)."""
    from hermes_hw.workload.pipeline import Workload, WorkloadOptions
    from hermes_hw.workload.placement.base import SystemParams

    traces: list = []

    def run() -> Iterator[TokenInput]:
        opts = WorkloadOptions(prompt_tokens=prompt_tokens, decode_tokens=tokens, batch=batch,
                               seed=seed, placement=placement, source=source,
                               system=SystemParams(n_dimms=n_dimms))
        workload = Workload(model, opts, trace=traces[0] if traces else None)
        for tw in workload.run():
            yield from_token_work(tw, prompt_tokens)
        if not traces:
            traces.append(workload.trace)

    return run


def build_layout(model, system: NdpSystemConfig, homes: list[np.ndarray] | None, *, batch: int,
                 max_context_tokens: int) -> ModelLayout:
    geom = DimmGeometry.from_dram_mapping(system.dram_mapping(), source=str(system.dram)
                                          if not isinstance(system.dram, dict) else "dram")
    return ModelLayout(model, system.n_dimms, geom, system.layout, homes, batch=batch,
                       max_context_tokens=max_context_tokens,
                       element_bytes=system.unit.element_bytes)


def lower_to_dir(model, system: NdpSystemConfig, tokens: Callable[[], Iterable[TokenInput]],
                 out: str | Path, *, batch: int, prompt_tokens: int, decode_tokens: int,
                 homes: list[np.ndarray] | None = None, header: dict | None = None,
                 force: bool = False) -> dict:
    """Lower every token of ``tokens()`` into the trace directory ``out``; returns the manifest.

    Without ``homes`` the work lists are read twice: once to learn every neuron's home DIMM
    (:func:`collect_homes`), once to lower."""
    t0 = time.perf_counter()
    if homes is None:
        # capacity check with balanced homes first, so a layout that cannot fit fails before
        # the work lists are generated
        build_layout(model, system, None, batch=batch,
                     max_context_tokens=prompt_tokens + decode_tokens)
        homes = collect_homes(tokens(), [g.count for g in model.blocks])
    layout = build_layout(model, system, homes, batch=batch,
                          max_context_tokens=prompt_tokens + decode_tokens)
    hdr = {
        "created_by": f"hermes-hw {__version__}",
        "model": model.id,
        "model_config": model.config.model_dump(mode="json"),
        "weight_bits": model.weight_bits,
        "batch": batch,
        "prompt_tokens": prompt_tokens,
        "n_dimms": system.n_dimms,
        "system": system.resolved(),
        "system_digest": system.digest(),
        **(header or {}),
    }
    writer = TraceWriter(out, system.n_dimms, hdr, force=force)
    count = 0
    for tok in tokens():
        if tok.token >= decode_tokens:
            raise InputError(f"work list token {tok.token} beyond the {decode_tokens} tokens laid "
                             "out")
        writer.add_token(lower_token(tok, layout, batch, system.unit.element_bytes))
        count += 1
    if count == 0:
        raise InputError("no tokens to lower")
    manifest = writer.close({"layout_used_bytes": layout.used_bytes().tolist()})
    manifest["_lower_seconds"] = time.perf_counter() - t0  # not stored (determinism)
    return manifest
