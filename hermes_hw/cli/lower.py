"""`hermes lower`: a model's decode tokens -> per-DIMM NDP memory-command traces."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from hermes_hw.errors import InputError


def load_system(args: argparse.Namespace):
    """NdpSystemConfig from --config (YAML) with the command-line overrides applied."""
    from hermes_hw.ndp.config import parse_system

    data: dict = {}
    if getattr(args, "config", None):
        p = Path(args.config)
        if not p.is_file():
            raise InputError(f"{p}: no such file")
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as err:
            raise InputError(f"{p}: not valid YAML: {err}") from None
        if not isinstance(data, dict):
            raise InputError(f"{p}: expected a mapping")
    for key, val in (("n_dimms", getattr(args, "dimms", None)),
                     ("dram", getattr(args, "dram", None))):
        if val is not None:
            data[key] = val
    lay = dict(data.get("layout") or {})
    for key, val in (("policy", getattr(args, "layout", None)),
                     ("kv_partition", getattr(args, "kv_partition", None))):
        if val is not None:
            lay[key] = val
    if lay:
        data["layout"] = lay
    unit = dict(data.get("unit") or {})
    if getattr(args, "multipliers", None) is not None:
        unit["multipliers"] = args.multipliers
    if unit:
        data["unit"] = unit
    system = parse_system(data, source=getattr(args, "config", None) or "command line")
    from hermes_hw.errors import unknown_name
    from hermes_hw.layout import POLICIES

    if system.layout.policy not in POLICIES:
        raise unknown_name("layout policy", system.layout.policy, POLICIES,
                           source="layout.policy")
    system.dram_mapping()  # fail early on a missing DRAM config
    return system


def _run(args: argparse.Namespace) -> int:
    from hermes_hw.lowering.driver import lower_to_dir, workload_tokens
    from hermes_hw.workload.models import load_model

    for name in ("tokens", "batch", "prompt"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name} must be at least 1, got {getattr(args, name)}")
    model = load_model(args.model)
    system = load_system(args)
    tokens = workload_tokens(model, tokens=args.tokens, prompt_tokens=args.prompt,
                             batch=args.batch, seed=args.seed, n_dimms=system.n_dimms,
                             placement=args.placement)
    header = {"seed": args.seed, "workload": {"source": "synthetic", "placement": args.placement,
                                              "predictor": "hermes"}}
    man = lower_to_dir(model, system, tokens, args.out, batch=args.batch,
                       prompt_tokens=args.prompt, decode_tokens=args.tokens, header=header,
                       force=args.force)
    files = []
    if args.format != "native":
        from hermes_hw.lowering.export import export

        files = [str(p) for p in export(args.out, args.format)]
    reqs = sum(d["requests"] for d in man["dimms"])
    rb = sum(d["read_bytes"] for d in man["dimms"])
    summary = {"out": str(args.out), "model": model.id, "tokens": man["tokens"],
               "batch": args.batch, "requests": reqs, "read_bytes": rb,
               "per_dimm_requests": [d["requests"] for d in man["dimms"]],
               "exports": files, "wall_seconds": round(man["_lower_seconds"], 3)}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"lowered {model.id}: {man['tokens']} token(s), batch {args.batch}, "
              f"{system.n_dimms} DIMMs -> {args.out}")
        print(f"  {reqs:,} requests of 64 B ({rb / 1e9:.3f} GB read payload); per DIMM: "
              + ", ".join(f"{r:,}" for r in summary["per_dimm_requests"]))
        for f in files:
            print(f"  export: {f}")
        print(f"  {summary['wall_seconds']:.2f} s")
    return 0


def add_system_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="NDP system YAML (keys of NdpSystemConfig; docs/ndp.md)")
    p.add_argument("--dimms", type=int, help="number of NDP-DIMMs (default 8)")
    p.add_argument("--dram", help="DRAM config of one DIMM (default hermes_ndp_dimm.yaml)")
    p.add_argument("--layout", help="layout policy: interleaved (default), rank-local")
    p.add_argument("--kv-partition", choices=("head", "token"), help="KV cache across DIMMs")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("lower", help="lower decode tokens to per-DIMM NDP traces")
    p.add_argument("--model", required=True, help="model id (hermes model list) or a file")
    p.add_argument("--tokens", type=int, default=1, help="decode tokens to lower (default 1)")
    p.add_argument("--out", required=True, help="output trace directory")
    p.add_argument("--format", choices=("native", "loadstore", "gem5"), default="native",
                   help="also export request-level traces per DIMM (native is always written)")
    p.add_argument("--batch", type=int, default=1, help="requests per batch (default 1)")
    p.add_argument("--prompt", type=int, default=128, help="prompt tokens (default 128)")
    p.add_argument("--seed", type=int, default=0, help="workload seed (default 0)")
    p.add_argument("--placement", default="greedy",
                   help="offline placement policy of the workload (default greedy; ilp)")
    add_system_args(p)
    p.add_argument("--force", action="store_true", help="overwrite a non-empty output directory")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(func=_run)
