"""`hermes simulate`: tokens/s, the latency breakdown and a timeline for one model, system, batch.

With no arguments: LLaMA2-70B on the paper's Hermes system at batch 1, input 128 / output 128.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _describe_config() -> int:
    from hermes_hw.systems.config import field_table

    print(f"{'key':<44} {'default':<24} {'unit':<14} description / source")
    for row in field_table():
        default = json.dumps(row["default"], default=str)
        print(f"{row['key']:<44} {default[:24]:<24} {row['unit']:<14} {row['description']}"
              + (f" -- {row['source']}" if row["source"] else ""))
    return 0


def _list_systems() -> int:
    from hermes_hw.systems.config import list_system_configs, load_system_config

    for sid in list_system_configs():
        cfg = load_system_config(sid)
        print(f"{sid:<20} ({cfg.system:<11}) {cfg.description}")
    return 0


def _trace_tokens(spec: str, steps: int) -> set[int] | None:
    from hermes_hw.errors import InputError

    if spec == "all":
        return None
    try:
        n = int(spec)
    except ValueError:
        raise InputError(f"--trace-tokens: expected a number or 'all', got '{spec}'") from None
    if n < 0:
        raise InputError(f"--trace-tokens must be >= 0, got {n}")
    return set(range(min(n, steps)))


def run_simulate(args: argparse.Namespace) -> int:
    if args.describe_config:
        return _describe_config()
    if args.list_systems:
        return _list_systems()
    from hermes_hw.errors import InputError
    from hermes_hw.systems import RunOptions, simulate
    from hermes_hw.timeline import format_breakdown

    if args.batch < 1:
        raise InputError(f"--batch must be at least 1, got {args.batch}")
    overrides = {}
    if args.sample_tokens is not None:
        if args.sample_tokens < 0:
            raise InputError(f"--sample-tokens must be >= 0, got {args.sample_tokens}")
        overrides = {"workload": {"sample_tokens": args.sample_tokens}}
    if args.dimm_model is not None:
        overrides["dimm_model"] = args.dimm_model
    run = RunOptions(input_tokens=args.input_tokens, output_tokens=args.output_tokens)
    tokens = _trace_tokens(args.trace_tokens, run.decode_steps)
    result = simulate(args.model, args.system, args.batch, config_path=args.config,
                      overrides=overrides, run=run)
    stats = result.stats()
    if args.out:
        _write_outputs(Path(args.out), result, stats, tokens)
    if args.json:
        print(json.dumps(stats, indent=2, sort_keys=True))
        return 0
    print(f"{result.model} on {args.system} ({result.config.system}), batch {result.batch}, "
          f"input {run.input_tokens} / output {run.output_tokens} tokens")
    print(f"  throughput   {result.tokens_per_s:.3f} tokens/s")
    print(f"  prefill      {result.prefill_ns * 1e-9:.4f} s ({stats['prefill_share'] * 100:.1f}% "
          "of end-to-end)")
    print(f"  decode       {result.decode_ns_per_token * 1e-6:.3f} ms per step "
          f"({run.decode_steps} steps)")
    print(f"  end-to-end   {result.total_ns * 1e-9:.4f} s; {stats['events']:,} timeline events; "
          f"simulated in {result.wall_s:.2f} s")
    print("  breakdown (critical path of the timeline):")
    print(format_breakdown(result.breakdown_ns, result.total_ns))
    if args.out:
        print(f"  wrote {args.out}/stats.json, resolved_config.yaml, timeline.json, summary.png")
    return 0


def _write_outputs(out: Path, result, stats: dict, tokens: set[int] | None) -> None:
    import yaml

    from hermes_hw.systems.figure import summary_figure
    from hermes_hw.timeline import write_chrome_trace

    out.mkdir(parents=True, exist_ok=True)
    (out / "stats.json").write_text(json.dumps(stats, indent=2, sort_keys=True) + "\n")
    cfg = result.config.model_dump(mode="json")
    header = (f"# resolved system config of `hermes simulate` (model {result.model}, batch "
              f"{result.batch}); every field, defaults included\n")
    (out / "resolved_config.yaml").write_text(header + yaml.safe_dump(cfg, sort_keys=False))
    write_chrome_trace(out / "timeline.json", result.timeline, tokens=tokens,
                       process_name=f"hermes-hw {result.model} {result.system} b{result.batch}",
                       metadata={"traced_decode_tokens": "all" if tokens is None
                                 else sorted(tokens)})
    summary_figure(result, out / "summary.png")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("simulate", help="simulate one model on one system at one batch "
                              "size: tokens/s, breakdown, timeline")
    p.add_argument("--model", default="llama2-70b",
                   help="model id (`hermes model list`) or a .yaml / config.json path "
                   "(default llama2-70b)")
    p.add_argument("--system", default="hermes",
                   help="system id (`hermes simulate --list-systems`; default hermes)")
    p.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    p.add_argument("--config", help="system YAML layered on the system's built-in config")
    p.add_argument("--out", help="write stats.json, resolved_config.yaml, timeline.json and "
                   "summary.png to this folder")
    p.add_argument("--json", action="store_true", help="print the stats as one JSON object")
    p.add_argument("--input-tokens", type=int, default=128, help="prompt tokens (default 128)")
    p.add_argument("--output-tokens", type=int, default=128,
                   help="generated tokens (default 128)")
    p.add_argument("--sample-tokens", type=int, default=None,
                   help="decode tokens whose work lists are generated (0 = all; default from "
                   "the config, 16)")
    p.add_argument("--dimm-model", choices=("bandwidth", "fast", "cycle"), default=None,
                   help="DIMM op timing (default from the config: bandwidth; fast = the NDP "
                   "fast mode fitted to cycle-level replay, docs/ndp.md; cycle = cycle-level "
                   "replay of this run's lowered trace, slow for big models: use a small "
                   "--output-tokens; docs/simulate.md)")
    p.add_argument("--trace-tokens", default="4",
                   help="decode tokens written to timeline.json besides prefill (a number or "
                   "'all'; default 4)")
    p.add_argument("--list-systems", action="store_true", help="list the system ids and exit")
    p.add_argument("--describe-config", action="store_true",
                   help="print every system config field with default, unit and source")
    p.set_defaults(func=run_simulate)


if __name__ == "__main__":  # pragma: no cover
    from hermes_hw.cli.main import main

    sys.exit(main(["simulate", *sys.argv[1:]]))
