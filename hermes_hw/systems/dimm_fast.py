"""Adapter from the timeline's :class:`DimmOp` to issue 4's fitted fast mode (hermes_hw.ndp.fast).

The fast mode times one NDP op as ``max(c + lat, a + b L + g s + w W)`` DRAM cycles (``L`` lines
read, ``s`` segments, ``W`` write lines posted before it, ``c`` compute cycles of the NDP unit),
with coefficients fitted per op class to a cycle-level replay of the same configuration
(docs/ndp.md). :func:`fast_dimm_model` obtains those coefficients for (model, batch, NDP unit,
DRAM config, DIMMs): it lowers one decode token of the workload to a temporary trace directory
and calls :func:`hermes_hw.ndp.fast.coefficients` (a cycle-level replay of a few layers on DIMM
0, seconds), and caches the result in ``$HERMES_CACHE_DIR/dimm-fast`` (or
``~/.cache/hermes-hw/dimm-fast``) under a hash of everything it depends on.

Mapping of the timeline's ops: ``gemv`` -> class ``gemv`` (segments = the neuron rows read, each
neuron contiguous in the layout); ``attention`` -> two ``attn`` ops (scores over K, weighted sum
over V; segments = the K or V regions, one per KV head and request) plus the softmax on the
activation unit; ``merge`` -> activation-unit compute only. Compute cycles follow
:class:`hermes_hw.ndp.unit.NdpTiming` (MACs / MACs per NDP cycle + activation-unit passes).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hermes_hw.systems.config import NdpUnitConfig
from hermes_hw.systems.dimm_time import DimmOp

FAST_ADAPTER_VERSION = 1
LINE_BYTES = 64


@dataclass(frozen=True)
class FastDimmModel:
    """Issue 4's fast mode per :class:`DimmOp` (ns)."""

    coef: dict  # op class -> {a, b, g, w, lat} in DRAM cycles
    ndp: NdpUnitConfig
    tck_ns: float
    softmax_passes: int = 3

    @property
    def dram_per_ndp(self) -> float:
        return (1.0 / self.ndp.clock_ghz) / self.tck_ns

    def _compute_cycles(self, macs: float, vector_ops: float) -> float:
        n = self.ndp
        ndp_cycles = macs / n.mac_per_ns * n.clock_ghz + math.ceil(vector_ops / n.activation_lanes)
        return ndp_cycles * self.dram_per_ndp

    def _read_op(self, cls: str, read_bytes: float, segments: float, write_bytes: float,
                 compute: float) -> float:
        c = self.coef[cls]
        lines = read_bytes / LINE_BYTES
        mem = c["a"] + c["b"] * lines + c["g"] * segments + c["w"] * write_bytes / LINE_BYTES
        return max(compute + c["lat"], mem)

    def op_time_ns(self, dimm: int, op: DimmOp) -> float:
        if not (op.read_bytes or op.write_bytes or op.macs or op.vector_ops):
            return 0.0
        if op.kind == "gemv" and op.read_bytes:
            cyc = self._read_op("gemv", op.read_bytes, max(op.segments, 1.0), 0.0,
                                self._compute_cycles(op.macs, op.vector_ops))
        elif op.kind == "attention" and op.read_bytes:
            half = self._compute_cycles(op.macs / 2, 0.0)
            seg = max(op.segments / 2, 1.0)
            score = self._read_op("attn", op.read_bytes / 2, seg, op.write_bytes, half)
            value = self._read_op("attn", op.read_bytes / 2, seg, 0.0, half)
            softmax = self.softmax_passes * math.ceil(op.vector_ops / 3 / self.ndp.activation_lanes)
            cyc = score + value + softmax * self.dram_per_ndp
        else:  # activation-unit work only (merges, reductions); writes are posted
            cyc = self._compute_cycles(op.macs, op.vector_ops)
        return cyc * self.tck_ns

    def describe(self) -> dict:
        return {"model": "fast", "coefficients": self.coef, "tck_ns": self.tck_ns}


def ndp_unit_for(ndp: NdpUnitConfig) -> dict:
    """The issue-4 NDP unit config (hermes_hw.ndp.config) with the system's unit values."""
    return {"clock_ghz": ndp.clock_ghz, "multipliers": ndp.multipliers,
            "lanes_per_multiplier": ndp.fp16_lanes_per_multiplier,
            "cycles_per_op": ndp.cycles_per_op, "buffer_bytes": ndp.buffer_kib * 1024,
            "activation_lanes": ndp.activation_lanes}


def _cache_dir() -> Path | None:
    env = os.environ.get("HERMES_CACHE_DIR")
    if env and env.lower() == "off":
        return None
    return (Path(env) if env else Path.home() / ".cache" / "hermes-hw") / "dimm-fast"


def fast_dimm_model(model, *, ndp: NdpUnitConfig, dram_config: str, n_dimms: int, batch: int,
                    prompt_tokens: int, seed: int = 0) -> FastDimmModel:
    """The fast model for this configuration (coefficients cached; fitted on a miss)."""
    from hermes_hw.dram.config import parse_config
    from hermes_hw.dram.resolve import resolve
    from hermes_hw.ndp.config import parse_system
    from hermes_hw.paths import configs_dir

    dram = str(configs_dir() / dram_config) if not Path(dram_config).is_absolute() \
        else dram_config
    system = parse_system({"dram": dram, "n_dimms": n_dimms, "unit": ndp_unit_for(ndp)},
                          source="system config ndp")
    tck = float(resolve(parse_config(system.dram_mapping(), dram)).tck_ns)
    from hermes_hw.source_digest import NDP_CODE, tree_digest
    from ramulator_bridge import engine_digest

    key = hashlib.sha256(json.dumps(
        {"v": FAST_ADAPTER_VERSION, "engine": engine_digest(),
         "code": tree_digest(*NDP_CODE, "hermes_hw/systems/dimm_fast.py"),
         "system": system.resolved(),
         "model": model.config.model_dump(mode="json"), "bits": model.weight_bits,
         "batch": batch, "prompt": prompt_tokens, "seed": seed}, sort_keys=True,
        default=str).encode()).hexdigest()[:24]
    cache = _cache_dir()
    path = cache / f"{key}.json" if cache else None
    if path is not None and path.is_file():
        try:
            coef = json.loads(path.read_text())["classes"]
            return FastDimmModel(coef, ndp, tck)
        except (OSError, ValueError, KeyError):
            pass
    coef = _fit_coefficients(model, system, batch=batch, prompt_tokens=prompt_tokens, seed=seed)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"classes": coef, "tck_ns": tck}, indent=1,
                                      sort_keys=True))
            os.replace(tmp, path)
        except OSError:
            pass
    return FastDimmModel(coef, ndp, tck)


def _fit_coefficients(model, system, *, batch: int, prompt_tokens: int, seed: int) -> dict:
    """Lower one decode token, fit the fast mode to its cycle-level replay (issue 4's fit)."""
    from hermes_hw.lowering.driver import lower_to_dir, workload_tokens
    from hermes_hw.lowering.work import collect_homes
    from hermes_hw.ndp.fast import additive_coefficients

    # one decode token: its work lists are generated once and kept (lower_to_dir would run the
    # workload twice, once for the homes and once to lower); the layout checks the capacity
    work = list(workload_tokens(model, tokens=1, prompt_tokens=prompt_tokens, batch=batch,
                                seed=seed, n_dimms=system.n_dimms)())
    homes = collect_homes(work, [g.count for g in model.blocks])
    with tempfile.TemporaryDirectory(prefix="hermes-dimm-fast-") as tmp:
        out = Path(tmp) / "trace"
        lower_to_dir(model, system, lambda: iter(work), out, batch=batch,
                     prompt_tokens=prompt_tokens, decode_tokens=1, homes=homes)
        return additive_coefficients(str(out))
