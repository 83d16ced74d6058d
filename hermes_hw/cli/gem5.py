"""`hermes gem5`: convert between gem5 packet traces and Ramulator2 text traces; inspect one.

hermes gem5 convert --from-loadstore T.trace --out T.gem5.gz --tck-ns 0.625
hermes gem5 convert --to-loadstore T.gem5.gz --out T.trace
hermes gem5 info T.gem5.gz [--json] [--tck-ns 0.625]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from hermes_hw.errors import InputError
from hermes_hw.gem5.commands import DEFAULT_GEM5_VERSION


def _positive_int(text: str) -> int:
    try:
        value = int(float(text)) if "e" in text.lower() else int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{text}'") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{text}'")
    return value


def _address(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"expected a byte address >= 0 (e.g. 0x80000000), got '{text}'"
        )
    return value


def _tck(text: str) -> str:
    try:
        ok = float(text) > 0
    except ValueError:
        ok = False
    if not ok:
        raise argparse.ArgumentTypeError(f"expected a positive clock period in ns, got '{text}'")
    return text


def _from_loadstore(args: argparse.Namespace) -> int:
    from hermes_hw.dram.traces import open_trace
    from hermes_hw.gem5 import Gem5TraceWriter, cycles_to_ticks

    if args.tck_ns is None:
        raise InputError(
            "--tck-ns is required with --from-loadstore (the memory clock period in ns that "
            "turns request slots into gem5 ticks, e.g. 0.625 for DDR4-3200)"
        )
    trace = open_trace(args.from_loadstore)
    done = 0
    writes = 0
    with Gem5TraceWriter(args.out, tick_freq=args.tick_freq) as writer:
        for chunk in trace:
            if chunk.addr is None:
                raise InputError(
                    "the trace gives address vectors, not byte addresses; gem5 traces need "
                    "byte addresses",
                    source=str(args.from_loadstore),
                )
            slots = (np.arange(len(chunk), dtype=np.int64) + done) * args.interval_cycles
            ticks = cycles_to_ticks(slots, args.tick_freq, args.tck_ns)
            addrs = chunk.addr + np.uint64(args.addr_base) if args.addr_base else chunk.addr
            writer.write(ticks, addrs, chunk.is_write, args.transaction_bytes)
            done += len(chunk)
            writes += int(np.count_nonzero(chunk.is_write))
    print(
        f"wrote {args.out}: {done} packets ({done - writes} ReadReq, {writes} WriteReq), "
        f"one every {args.interval_cycles} cycle(s) of {args.tck_ns} ns, "
        f"tick_freq {args.tick_freq} Hz"
    )
    return 0


def _to_loadstore(args: argparse.Namespace) -> int:
    from hermes_hw.dram.traces import write_loadstore
    from hermes_hw.gem5 import read_gem5_trace

    trace = read_gem5_trace(
        args.to_loadstore,
        transaction_bytes=args.transaction_bytes,
        gem5_version=args.gem5_version,
        addr_base=args.addr_base,
    )
    addrs, kinds = [], []
    for chunk in trace:
        addrs.append(chunk.addr)
        kinds.append(chunk.is_write)
    stats = trace.stats
    assert stats is not None
    if stats.requests == 0:
        raise InputError(
            f"no read or write requests in the trace ({stats.packets} packets, "
            f"{stats.skipped_packets} without data); nothing to write",
            source=str(args.to_loadstore),
        )
    write_loadstore(args.out, np.concatenate(addrs), np.concatenate(kinds))
    print(
        f"wrote {args.out}: {stats.requests} requests ({stats.read_requests} LD, "
        f"{stats.write_requests} ST) from {stats.packets} packets, "
        f"{stats.skipped_packets} skipped (no data); issue times are not kept in LD/ST text"
    )
    return 0


def run_convert(args: argparse.Namespace) -> int:
    if args.from_loadstore is not None:
        return _from_loadstore(args)
    return _to_loadstore(args)


def run_info(args: argparse.Namespace) -> int:
    from hermes_hw.gem5.summary import summarize_gem5_trace

    info = summarize_gem5_trace(
        args.trace,
        transaction_bytes=args.transaction_bytes,
        gem5_version=args.gem5_version,
        tck_ns=args.tck_ns,
        addr_base=args.addr_base,
    )
    if args.json:
        json.dump(info, sys.stdout)
        print()
        return 0
    commands = ", ".join(f"{name} {n}" for name, n in info["commands"].items()) or "none"
    lines = [
        f"trace        {info['path']}",
        f"recorded by  {info['obj_id']} (format version {info['format_version']}, "
        f"{info['requestors']} requestor names)",
        f"tick_freq    {info['tick_freq_hz']} Hz",
        f"packets      {info['packets']} ({commands}; gem5 {info['gem5_command_layout']} "
        "numbering)",
        f"requests     {info['requests']} of {info['transaction_bytes']} B "
        f"({info['read_requests']} reads, {info['write_requests']} writes; "
        f"{info['skipped_packets']} packets without data skipped)",
    ]
    if info["first_tick"] is not None:
        lines.append(
            f"ticks        {info['first_tick']} .. {info['last_tick']} ({info['span_ns']:.3f} ns)"
        )
        if "first_cycle" in info:
            lines.append(
                f"cycles       {info['first_cycle']} .. {info['last_cycle']} "
                f"at tCK {info['tck_ns']} ns"
            )
        lines.append(
            f"TrafficGen   STATE 0 {info['last_tick'] + 10**7} TRACE "
            f"{Path(info['path']).resolve()} 0   (last tick + 10 us)"
        )
        if info["non_monotonic_ticks"]:
            lines.append(
                f"warning      {info['non_monotonic_ticks']} packets are stamped earlier than "
                "their predecessor; replay issues them with it"
            )
    print("\n".join(lines))
    return 0


def _int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got '{text}'"
        ) from None


def run_from_ndp(args: argparse.Namespace) -> int:
    from hermes_hw.lowering.export import export

    files = export(args.dir, "gem5", args.out, dimms=args.dimms, layers=args.layers)
    for f in files:
        print(f)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "gem5", help="convert and inspect gem5 packet traces (TrafficGen TRACE format)"
    )
    sub = parser.add_subparsers(dest="gem5_command", metavar="ACTION", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--transaction-bytes",
            type=_positive_int,
            default=64,
            help="DRAM request size in bytes; larger packets are split (default 64)",
        )
        p.add_argument(
            "--gem5-version",
            default=DEFAULT_GEM5_VERSION,
            help="gem5 release that recorded the trace, for its command numbering "
            f"(v19.0 or later; default {DEFAULT_GEM5_VERSION}, also right for later releases)",
        )
        p.add_argument(
            "--addr-base",
            type=_address,
            default=0,
            help="start of gem5's memory range: gem5 address = hermes-hw address + this "
            "(default 0)",
        )

    conv = sub.add_parser("convert", help="LD/ST text trace to gem5 packet trace, or back")
    src = conv.add_mutually_exclusive_group(required=True)
    src.add_argument("--from-loadstore", type=Path, metavar="TRACE", help="text trace to read")
    src.add_argument("--to-loadstore", type=Path, metavar="GEM5_TRACE", help="gem5 trace to read")
    conv.add_argument(
        "--out", type=Path, required=True, help="file to write (.gz: gzip-compressed)"
    )
    conv.add_argument(
        "--tck-ns", type=_tck, help="memory clock period in ns (needed with --from-loadstore)"
    )
    conv.add_argument(
        "--interval-cycles",
        type=_positive_int,
        default=1,
        help="memory cycles between consecutive requests of a text trace (default 1)",
    )
    conv.add_argument(
        "--tick-freq",
        type=_positive_int,
        default=10**12,
        help="gem5 ticks per second; must equal gem5's (default 1e12)",
    )
    common(conv)
    conv.set_defaults(func=run_convert)

    ndp = sub.add_parser(
        "from-ndp",
        help="export an NDP trace directory (hermes lower) as one gem5 packet trace per DIMM, "
        "ticks = simulated issue times",
    )
    ndp.add_argument("dir", type=Path, help="trace directory written by `hermes lower`")
    ndp.add_argument("--out", type=Path, help="output folder (default: the trace directory)")
    ndp.add_argument("--dimms", type=_int_list, help="only these DIMMs (comma-separated)")
    ndp.add_argument("--layers", type=_int_list, help="only these decoder layers")
    ndp.set_defaults(func=run_from_ndp)

    info = sub.add_parser("info", help="header, packet counts and tick range of a gem5 trace")
    info.add_argument("trace", type=Path, help="gem5 packet trace (plain or .gz)")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.add_argument("--tck-ns", type=_tck, help="also show the tick range in memory cycles")
    common(info)
    info.set_defaults(func=run_info)
