"""Studies on the NDP side: DIMM internal bandwidth, multiplier sensitivity, fast-mode error."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from hermes_hw.lowering.ops import OP_KIND_ID
from hermes_hw.lowering.trace import TraceDir

_COMPUTE_KINDS = np.array([OP_KIND_ID[k] for k in ("gemv", "attn_score", "attn_value")])
PAPER_MODELS = ("opt-13b", "opt-30b", "opt-66b", "llama2-13b", "llama2-70b", "falcon-40b")


def internal_bandwidth(dram: str | dict = "hermes_ndp_dimm.yaml", requests: int = 400_000) -> dict:
    """Stream ``requests`` sequential 64 B reads through one DIMM in NDP and in host access mode
    (engine, cycle-level, to the last data return); returns GB/s for each and the ceilings."""
    from hermes_hw.dram.memory_system import MemorySystem
    from hermes_hw.ndp.config import NdpSystemConfig

    mapping = NdpSystemConfig(dram=dram).dram_mapping()
    out = {"requests": requests}
    for mode in ("ndp", "host"):
        m = {**mapping, "MemorySystem": {**mapping["MemorySystem"], "access_mode": mode}}
        ms = MemorySystem.from_yaml(m)
        addr = np.arange(requests, dtype=np.uint64) * 64
        ms.run_trace(addr, np.zeros(requests, bool))
        cycles = ms.drain()
        out[f"{mode}_gbps"] = requests * 64 / (cycles * ms.tck_ns)
        ranks = ms.resolved.org["rank"] * ms.resolved.org["channel"]
        out["tck_ns"] = ms.tck_ns
    out["rank_ceiling_gbps"] = ranks * 64 / (4 * out["tck_ns"])  # nBL = 4 cycles per 64 B
    out["channel_gbps"] = 64 / (4 * out["tck_ns"])
    out["paper_label_gbps"] = 200.0
    return out


def lower_sample(model_id: str, out: str | Path, *, batch: int, system=None, seed: int = 0,
                 prompt: int = 128) -> dict:
    """Lower one decode token of ``model_id`` (synthetic workload, greedy placement)."""
    from hermes_hw.lowering.driver import lower_to_dir, workload_tokens
    from hermes_hw.ndp.config import NdpSystemConfig
    from hermes_hw.workload.models import load_model

    system = system or NdpSystemConfig()
    model = load_model(model_id)
    tokens = workload_tokens(model, tokens=1, prompt_tokens=prompt, batch=batch, seed=seed,
                             n_dimms=system.n_dimms)
    return lower_to_dir(model, system, tokens, out, batch=batch, prompt_tokens=prompt,
                        decode_tokens=1, force=True, header={"seed": seed})


def sample_layers(n_layers: int, k: int) -> list[int]:
    return sorted(set(np.linspace(0, n_layers - 1, min(k, n_layers)).round().astype(int).tolist()))


def sensitivity(model_id: str = "llama2-70b", multipliers=(32, 64, 128, 256, 512),
                batches=(1, 16), *, layers: int = 4, dimm: int = 0, fast: bool = False,
                workdir: str | None = None) -> list[dict]:
    """DIMM time per layer vs GEMV multipliers at each batch size (cycle-level on ``layers``
    sampled layers of one DIMM, or the fast mode on every layer)."""
    from hermes_hw.ndp.fast import fast_replay_all
    from hermes_hw.ndp.replay import replay_dimm

    rows = []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        for batch in batches:
            path = Path(tmp) / f"b{batch}"
            lower_sample(model_id, path, batch=batch)
            td = TraceDir(path)
            n_layers = int(td.manifest["model_config"]["architecture"]["num_layers"])
            sel = None if fast else sample_layers(n_layers, layers)
            ops_all = td.ops(dimm)
            for mult in multipliers:
                ov = {"unit": {"multipliers": int(mult)}}
                if fast:
                    r = fast_replay_all(str(path), override=ov, dimms=[dimm])[0]
                else:
                    r = replay_dimm(str(path), dimm, layers=sel, override=ov)
                ops = ops_all[r["op_index"]]
                comp = np.isin(ops["kind"], _COMPUTE_KINDS)
                dur = r["end_ns"] - r["start_ns"]
                busy, total = float(r["busy_ns"][comp].sum()), float(dur[comp].sum())
                n = len(sel) if sel is not None else n_layers
                rows.append({
                    "model": model_id, "batch": batch, "multipliers": int(mult),
                    "us_per_layer": r["totals"]["busy_time_ns"] / n / 1e3,
                    "compute_share": busy / total if total else 0.0,
                    "bound": "compute" if total and busy >= 0.9 * total else "bandwidth",
                    "layers": n,
                })
    return rows


def fast_error(models=PAPER_MODELS, *, batch: int = 1, layers: int = 8, dimms=(0, 1),
               workdir: str | None = None, system=None) -> list[dict]:
    """Per model: fit the fast mode (cached), then compare its per-layer DIMM times with
    cycle-level replay on ``layers`` evaluation layers of ``dimms`` (none of them calibration
    layers where the model has enough layers): the fast mode as it runs (``fast_model``: the
    analytical model, or cycle-level where its fit misses the tolerance) and its analytical
    model alone (``analytical_*``). ``system``: the NDP system config (default
    :class:`~hermes_hw.ndp.config.NdpSystemConfig`)."""
    from hermes_hw.errors import InputError
    from hermes_hw.ndp.config import NdpSystemConfig
    from hermes_hw.ndp.fast import calibration_layers, coefficients, fast_replay_all
    from hermes_hw.ndp.replay import replay_dimm

    n_dimms = (system or NdpSystemConfig()).n_dimms
    if layers < 1:
        raise InputError(f"--layers: expected at least 1 evaluation layer, got {layers}")
    bad = [j for j in dimms if not 0 <= j < n_dimms]
    if bad:
        raise InputError(f"--dimms: DIMM {bad[0]} does not exist (the system has {n_dimms} "
                         f"DIMMs, 0-{n_dimms - 1})")
    rows = []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        for mid in models:
            path = Path(tmp) / mid
            lower_sample(mid, path, batch=batch, system=system)
            td = TraceDir(path)
            n_layers = int(td.manifest["model_config"]["architecture"]["num_layers"])
            cal = set(calibration_layers(n_layers))
            cand = [x for x in range(n_layers) if x not in cal] or list(range(n_layers))
            ev = [cand[i] for i in sample_layers(len(cand), layers)]
            t0 = time.perf_counter()
            coefficients(str(path))
            fit_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            fast = fast_replay_all(str(path), layers=ev, dimms=list(dimms))
            fast_s = time.perf_counter() - t0
            ana, ana_s = fast, fast_s  # the fast mode ran the analytical model already
            if fast[0]["fast_model"]["model"] != "analytical":
                t0 = time.perf_counter()
                ana = fast_replay_all(str(path), layers=ev, dimms=list(dimms), analytical=True)
                ana_s = time.perf_counter() - t0
            cyc = [replay_dimm(str(path), j, layers=ev) for j in dimms]
            row = {"model": mid, "batch": batch, "layers": ev, "dimms": list(dimms),
                   "fast_model": fast[0]["fast_model"]["model"],
                   "fit_error": fast[0]["fast_model"]["fit_error"],
                   "fit_seconds": fit_s, "fast_seconds": fast_s, "analytical_seconds": ana_s}
            for prefix, res in (("", fast), ("analytical_", ana)):
                row.update({prefix + k: v for k, v in _errors(td, cyc, res).items()})
            rows.append(row)
    return rows


def _errors(td: TraceDir, cycle: list[dict], other: list[dict]) -> dict:
    """Per-layer relative errors of ``other`` against the cycle-level results ``cycle`` (same
    DIMMs and layers): max and mean of |other / cycle - 1|, and the total busy-time error."""
    from hermes_hw.ndp.run import per_layer

    errs, tot_c, tot_o = [], 0.0, 0.0
    for cyc, oth in zip(cycle, other, strict=True):
        for a, b in zip(per_layer(td, cyc), per_layer(td, oth), strict=True):
            errs.append((b["end_ns"] - b["start_ns"]) / (a["end_ns"] - a["start_ns"]) - 1.0)
        tot_c += cyc["totals"]["busy_time_ns"]
        tot_o += oth["totals"]["busy_time_ns"]
    e = np.abs(errs)
    return {"max_layer_error": float(e.max()), "mean_layer_error": float(e.mean()),
            "total_error": tot_o / tot_c - 1.0}
