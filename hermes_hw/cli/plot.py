"""`hermes plot ...`: figures from result and trace files (PNG, PDF or SVG by the --out suffix)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hermes_hw.errors import InputError


def _out(args: argparse.Namespace, kind: str) -> Path:
    if args.out:
        return Path(args.out)
    first = args.inputs[0] if getattr(args, "inputs", None) else args.input
    stem = Path(str(first).partition("=")[2] or first).name.split(".")[0]
    return Path(f"{stem}.{kind}.png")


def _timing(args: argparse.Namespace):
    from hermes_hw.plot import dram

    if args.config:
        return dram.timing_from_config(args.config)
    if args.replay_json:
        return dram.timing_from_replay_json(args.replay_json)
    if args.tck_ns is not None:
        if args.tck_ns <= 0:
            raise InputError(f"--tck-ns must be positive, got {args.tck_ns}")
        return dram.DramTiming(tck_ns=args.tck_ns, tx_bytes=args.tx_bytes)
    raise InputError("the clock period is needed: pass --config (the DRAM config), "
                     "--replay-json (`hermes dram replay --json` output) or --tck-ns")


def _save(fig, path: Path) -> int:
    from hermes_hw.plot.style import save_figure

    for p in save_figure(fig, path):
        print(p)
    return 0


def _bandwidth(args):
    from hermes_hw.plot import dram

    timing = _timing(args)
    fig = dram.plot_bandwidth(dram.read_logs(args.inputs), timing, by=_by(args),
                              bin_ns=args.bin_ns, title=args.title)
    return _save(fig, _out(args, "bandwidth"))


def _by(args) -> str:
    return args.by or ("dimm" if len(args.inputs) > 1 else "channel")


def _commands(args):
    from hermes_hw.plot import dram

    return _save(dram.plot_command_mix(dram.read_logs(args.inputs), by=_by(args),
                                       title=args.title), _out(args, "commands"))


def _row_hits(args):
    from hermes_hw.plot import dram

    return _save(dram.plot_row_hits(dram.read_logs(args.inputs), title=args.title),
                 _out(args, "row-hits"))


def _latency(args):
    from hermes_hw.plot import dram

    lat, lat_ns, reads = dram.read_latency_histogram(args.input)
    return _save(dram.plot_latency(lat, lat_ns, reads, title=args.title), _out(args, "latency"))


def _load_balance(args):
    from hermes_hw.plot.workload import plot_load_balance
    from hermes_hw.plot.workload_result import read_workload_result

    return _save(plot_load_balance(read_workload_result(args.input), args.title),
                 _out(args, "load-balance"))


def _predictor(args):
    from hermes_hw.plot.workload import plot_predictor_quality
    from hermes_hw.plot.workload_result import read_workload_result

    return _save(plot_predictor_quality(read_workload_result(args.input), args.title),
                 _out(args, "predictor"))


def _int_list(text: str) -> list[int]:
    out: list[int] = []
    try:
        for part in text.split(","):
            lo, sep, hi = part.partition("-")
            out.extend(range(int(lo), int(hi) + 1) if sep else [int(lo)])
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected e.g. 0,2,5-7; got '{text}'") from None
    return out


def _timeline(args):
    from hermes_hw.plot.timeline import plot_gantt, read_timeline, select_bars

    lanes, bars = read_timeline(args.input)
    layers = (min(args.layers), max(args.layers)) if args.layers else None
    chosen = select_bars(bars, args.tokens, args.prefill, layers)
    tokens = sorted({b.token for b in chosen if b.phase == "decode"})
    what = ("prefill + " if args.prefill else "") + (
        f"decode token{'s' if len(tokens) != 1 else ''} {', '.join(map(str, tokens))}"
        if tokens else "")
    return _save(plot_gantt(lanes, chosen, args.title or f"Timeline: {what}".rstrip(": +")),
                 _out(args, "timeline"))


def _table(args):
    from hermes_hw.plot.charts import plot_table

    return _save(plot_table(args.input, args.x, args.y, args.hue, args.kind, args.title,
                            args.ylabel, args.xlabel), _out(args, "table"))


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("plot", help="figures from result and trace files")
    sub = parser.add_subparsers(dest="plot_command", metavar="FIGURE", required=True)

    def add(name, func, help_text, multi_logs=False, positional="input", pos_help=""):
        p = sub.add_parser(name, help=help_text, description=help_text)
        if multi_logs:
            p.add_argument("inputs", nargs="+", metavar="[LABEL=]LOG",
                           help="command log(s) (`hermes dram replay --command-log`); one per "
                           "DIMM for NDP replays, labelled LABEL or by file name")
        else:
            p.add_argument(positional, help=pos_help)
        p.add_argument("-o", "--out", help="figure file (.png, .pdf, .svg); default "
                       f"INPUT.{name}.png in the current folder")
        p.add_argument("--title", help="figure title")
        p.set_defaults(func=func)
        return p

    by_help = ("series: one per file (dimm), per channel or per rank (default: dimm with "
               "several files, else channel)")
    p = add("bandwidth", _bandwidth, "data-bus bandwidth over time per DIMM/channel/rank",
            multi_logs=True)
    p.add_argument("--by", choices=["dimm", "channel", "rank"], help=by_help)
    p.add_argument("--bin-ns", type=float, help="time bin in ns (default: 1/100 of the span)")
    p.add_argument("--config", help="DRAM config YAML (clock period and bytes per command)")
    p.add_argument("--replay-json", help="`hermes dram replay --json` output (clock period)")
    p.add_argument("--tck-ns", type=float, help="clock period in ns")
    p.add_argument("--tx-bytes", type=int, default=64, help="bytes per RD/WR (default 64)")
    p = add("commands", _commands, "command mix (count per DRAM command)", multi_logs=True)
    p.add_argument("--by", choices=["dimm", "channel", "rank"], help=by_help)
    add("row-hits", _row_hits, "row-buffer hit rate per bank (heatmap)", multi_logs=True)
    add("latency", _latency, "read-latency distribution",
        pos_help="latency histogram CSV (`hermes dram replay --latency-histogram`)")
    add("load-balance", _load_balance, "DIMM load balance per window, before/after remapping",
        pos_help="workload result JSON (hermes-workload-result/1 or `hermes workload --json`)")
    add("predictor", _predictor, "predictor recall and precision per layer",
        pos_help="workload result JSON (hermes-workload-result/1 or `hermes workload --json`)")
    p = add("timeline", _timeline, "per-token Gantt chart of a timeline",
            pos_help="Chrome trace-event JSON (timeline.json from `hermes simulate`)")
    p.add_argument("--tokens", type=_int_list, help="decode tokens, e.g. 0 or 0-2 (default: "
                   "the first decode token in the file)")
    p.add_argument("--layers", type=_int_list, help="only these layers, e.g. 0-3")
    p.add_argument("--prefill", action="store_true", help="also show the prefill phase")
    p = add("table", _table, "a column of a result table (sweep results.csv, experiment CSV)",
            pos_help="CSV table")
    p.add_argument("--x", required=True, help="column for the x axis")
    p.add_argument("--y", required=True, help="numeric column for the y axis")
    p.add_argument("--hue", help="column whose values become separate series")
    p.add_argument("--kind", choices=["line", "bar"], default="line", help="chart type")
    p.add_argument("--xlabel", help="x-axis label (with its unit)")
    p.add_argument("--ylabel", help="y-axis label (with its unit)")
