"""`hermes dram ...`: replay traces through the cycle-level DRAM engine."""

from __future__ import annotations

import argparse
import json

from hermes_hw.errors import InputError


def _replay(args: argparse.Namespace) -> int:
    from hermes_hw.dram.replay import result_json, run_replay

    out = run_replay(args.config, args.trace, trace_format=args.trace_format,
                     backend=args.backend, command_log=bool(args.command_log), check=args.check,
                     write_plugin_outputs=args.plugin_outputs, gem5_version=args.gem5_version,
                     addr_base=args.addr_base)
    if args.command_log:
        try:
            out.command_log.write_text(args.command_log)
        except OSError as err:
            raise InputError(f"cannot write command log ({err.strerror})",
                             source=args.command_log) from None
    if args.latency_histogram:
        _write_latency_histogram(out, args.latency_histogram)
    obj = result_json(out)
    if args.json:
        print(json.dumps(obj, indent=2, sort_keys=False))
    else:
        _print_table(obj)
    if out.check is not None and out.check.violations:
        print(out.check.summary(), flush=True)
        return 1
    return 0


def _write_latency_histogram(out, path: str) -> None:
    from hermes_hw.plot.latency_csv import write_latency_histogram

    if not hasattr(out.memory.backend, "latency_histogram"):
        raise InputError("--latency-histogram: not available with this backend")
    write_latency_histogram(out.memory.backend.latency_histogram(), out.result.tck_ns, path)


def _print_table(obj: dict) -> None:
    n = obj["reads"] + obj["writes"]
    share = (lambda k: f"{obj[k]:>12,d}  ({100 * obj[k] / n:5.2f}% of requests)") if n else str
    lines = [
        f"requests           {n:>12,d}  ({obj['reads']:,d} reads, {obj['writes']:,d} writes)",
        f"cycles             {obj['cycles']:>12,d}  (at the last acceptance, as Ramulator2)",
        f"drain cycles       {obj['drain_cycles']:>12,d}  "
        f"({obj['drain_cycles'] * obj['tck_ns']:,.1f} ns)",
        f"row hits           {share('row_hits')}",
        f"row misses         {share('row_misses')}",
        f"row conflicts      {share('row_conflicts')}",
        f"read latency       {obj['avg_read_latency_cycles']:>12.2f}  cycles mean "
        f"({obj['avg_read_latency_ns']:.2f} ns)",
    ]
    if "read_latency_p50_cycles" in obj:
        lines.append(f"  p50 / p99 / max  {obj['read_latency_p50_cycles']:>6d} / "
                     f"{obj['read_latency_p99_cycles']} / {obj['max_read_latency_cycles']} cycles")
    lines.append(f"bandwidth          {obj['bandwidth_gbps']:>12.2f}  GB/s over the drain time")
    lines.append("commands           " + ", ".join(f"{k} {v:,d}" for k, v in
                                                 obj["commands"].items() if v))
    if len(obj.get("per_channel", [])) > 1:
        for c in obj["per_channel"]:
            who = f"ch{c['channel']}" + ("" if c["rank"] is None else f" rank{c['rank']}")
            lines.append(f"  {who:<16} {c['reads'] + c['writes']:>12,d} requests, "
                         f"{c['bandwidth_gbps']:.2f} GB/s, hits {c['row_hits']:,d}, "
                         f"mean read latency {c['avg_read_latency_cycles']:.1f} cycles")
    if "protocol_check" in obj:
        pc = obj["protocol_check"]
        lines.append(f"protocol check     {pc['violations']} violations in "
                     f"{pc['commands']:,d} commands")
    lines.append(f"wall time          {obj['wall_seconds']:>12.3f}  s "
                 f"({obj['requests_per_second']:,.0f} requests/s)")
    print("\n".join(lines))


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("dram", help="cycle-level DRAM engine")
    sub = parser.add_subparsers(dest="dram_command", metavar="SUBCOMMAND", required=True)
    rp = sub.add_parser("replay", help="replay a memory trace (Ramulator2 config and trace)")
    rp.add_argument("--config", required=True, help="DRAM config YAML (Ramulator2 format)")
    rp.add_argument("--trace", help="trace file (default: the config's Frontend.path)")
    rp.add_argument("--trace-format", default="auto",
                    choices=["auto", "loadstore", "readwrite", "npz", "gem5"],
                    help="trace format (default: detected; gem5 = protobuf packet trace, replayed "
                    "at its recorded times)")
    rp.add_argument("--gem5-version", help="gem5 release that recorded a gem5 trace "
                    "(its command numbering; default v22.1)")
    rp.add_argument("--addr-base", type=lambda x: int(x, 0), default=0,
                    help="gem5 memory-range start subtracted from every address (default 0)")
    rp.add_argument("--backend", help="DRAM backend (default: the config's, else builtin)")
    rp.add_argument("--json", action="store_true", help="print one JSON object")
    rp.add_argument("--command-log", metavar="FILE", help="write every issued command")
    rp.add_argument("--latency-histogram", metavar="FILE",
                    help="write the read-latency histogram (CSV: latency_cycles, latency_ns, "
                    "reads) for `hermes plot latency`")
    rp.add_argument("--check", action="store_true",
                    help="verify every command against the JEDEC rules (exit 1 on violations)")
    rp.add_argument("--plugin-outputs", action="store_true",
                    help="write the config's CommandCounter/TraceRecorder plugin files")
    rp.set_defaults(func=_replay)
