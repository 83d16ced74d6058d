"""The native NDP trace directory: versioned, chunked numpy files (spec: traces/FORMAT.md).

    DIR/manifest.json              what, from which inputs, and the file list with counts
    DIR/dimm<j>/ops.npy            OP_DTYPE records of DIMM j, all tokens
    DIR/dimm<j>/segments-<k>.npy   SEGMENT_DTYPE records, in issue order, split in chunks

A segment expands to 64 B requests (:func:`expand_segments`); a 70B token's ~10^8 requests
are therefore a few MB on disk and are expanded chunk by chunk at replay.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from hermes_hw.errors import InputError
from hermes_hw.layout.base import SEGMENT_DTYPE
from hermes_hw.lowering.lower import DimmTokenTrace
from hermes_hw.lowering.ops import OP_DTYPE

FORMAT_NAME = "hermes-ndp-trace"
FORMAT_VERSION = 1
SEGMENTS_PER_FILE = 1 << 20


class TraceWriter:
    """Stream tokens into a trace directory; the manifest is written last by :meth:`close`."""

    def __init__(self, out: str | Path, n_dimms: int, header: dict, *, force: bool = False,
                 segments_per_file: int = SEGMENTS_PER_FILE) -> None:
        self.out = Path(out)
        if self.out.exists() and any(self.out.iterdir()) and not force:
            raise InputError(f"{self.out}: output directory exists and is not empty (use --force "
                             "to overwrite)")
        if force and (self.out / "manifest.json").exists():
            (self.out / "manifest.json").unlink()
        self.out.mkdir(parents=True, exist_ok=True)
        self.n, self.header, self.per_file = n_dimms, header, segments_per_file
        self._ops: list[list[np.ndarray]] = [[] for _ in range(n_dimms)]
        self._segbuf: list[list[np.ndarray]] = [[] for _ in range(n_dimms)]
        self._segbuf_n = [0] * n_dimms
        self._files: list[list[dict]] = [[] for _ in range(n_dimms)]
        self._nops = [0] * n_dimms
        self._nseg = [0] * n_dimms
        self._totals = [dict(requests=0, read_requests=0, write_requests=0, read_bytes=0,
                             write_bytes=0, macs=0) for _ in range(n_dimms)]
        self.tokens = 0
        for j in range(n_dimms):
            d = self.out / f"dimm{j}"
            d.mkdir(exist_ok=True)
            for old in d.glob("segments-*.npy"):
                old.unlink()

    def add_token(self, per_dimm: list[DimmTokenTrace]) -> None:
        for j, t in enumerate(per_dimm):
            ops = t.ops.copy()
            ops["dep"] = np.where(ops["dep"] >= 0, ops["dep"] + self._nops[j], -1)
            ops["seg_start"] += self._nseg[j]
            segs = t.segments.copy()
            segs["op"] += self._nops[j]
            self._ops[j].append(ops)
            tot = self._totals[j]
            w = segs["write"].astype(bool)
            lines = segs["lines"].astype(np.int64)
            tot["requests"] += int(lines.sum())
            tot["write_requests"] += int(lines[w].sum())
            tot["read_requests"] += int(lines[~w].sum())
            tot["read_bytes"] += int(ops["read_bytes"].sum())
            tot["write_bytes"] += int(ops["write_bytes"].sum())
            tot["macs"] += int(ops["macs"].sum())
            self._nops[j] += len(ops)
            self._nseg[j] += len(segs)
            self._segbuf[j].append(segs)
            self._segbuf_n[j] += len(segs)
            if self._segbuf_n[j] >= self.per_file:
                self._flush(j)
        self.tokens += 1

    def _flush(self, j: int) -> None:
        if not self._segbuf_n[j]:
            return
        segs = np.concatenate(self._segbuf[j])
        for s in range(0, len(segs), self.per_file):
            part = segs[s:s + self.per_file]
            name = f"dimm{j}/segments-{len(self._files[j]):05d}.npy"
            np.save(self.out / name, part)
            self._files[j].append({"path": name, "count": len(part)})
        self._segbuf[j], self._segbuf_n[j] = [], 0

    def close(self, extra: dict | None = None) -> dict:
        dimms = []
        for j in range(self.n):
            self._flush(j)
            ops = np.concatenate(self._ops[j]) if self._ops[j] else np.zeros(0, OP_DTYPE)
            np.save(self.out / f"dimm{j}/ops.npy", ops)
            dimms.append({"ops": f"dimm{j}/ops.npy", "ops_count": len(ops),
                          "segment_files": self._files[j], "segments": self._nseg[j],
                          **self._totals[j]})
        manifest = {"format": FORMAT_NAME, "version": FORMAT_VERSION, **self.header,
                    "tokens": self.tokens, **(extra or {}), "dimms": dimms}
        tmp = self.out / "manifest.json.tmp"
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, self.out / "manifest.json")
        return manifest


class TraceDir:
    """A trace directory opened for reading; every problem is an :class:`InputError`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        mpath = self.path / "manifest.json"
        if not self.path.is_dir():
            raise InputError(f"{self.path}: not a trace directory (expected a directory written "
                             "by `hermes lower`)")
        if not mpath.is_file():
            raise InputError(f"{mpath}: missing; not a complete trace directory (was `hermes "
                             "lower` interrupted?)")
        try:
            m = json.loads(mpath.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise InputError(f"{mpath}: not valid JSON ({err})") from None
        if not isinstance(m, dict) or m.get("format") != FORMAT_NAME:
            raise InputError(f"{mpath}: 'format' must be '{FORMAT_NAME}'")
        if m.get("version") != FORMAT_VERSION:
            raise InputError(f"{mpath}: trace format version {m.get('version')!r} is not "
                             f"supported (this hermes-hw reads version {FORMAT_VERSION}); "
                             "re-run `hermes lower`")
        for key in ("n_dimms", "dimms", "model", "batch", "system", "tokens"):
            if key not in m:
                raise InputError(f"{mpath}: missing key '{key}'")
        if not isinstance(m["dimms"], list) or len(m["dimms"]) != m["n_dimms"]:
            raise InputError(f"{mpath}: 'dimms' must list {m['n_dimms']} DIMMs")
        for j, d in enumerate(m["dimms"]):
            for key in ("ops", "ops_count", "segment_files", "segments", "requests"):
                if key not in d:
                    raise InputError(f"{mpath}: dimms[{j}] is missing '{key}'")
            if sum(f.get("count", -1) for f in d["segment_files"]) != d["segments"]:
                raise InputError(f"{mpath}: dimms[{j}]: segment file counts do not add up to "
                                 f"{d['segments']}")
        self.manifest = m
        self.n_dimms = int(m["n_dimms"])

    def _load(self, rel: str, dtype: np.dtype, count: int) -> np.ndarray:
        p = self.path / rel
        if not p.is_file():
            raise InputError(f"{p}: missing (listed in manifest.json)")
        try:
            arr = np.load(p, allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:
            raise InputError(f"{p}: unreadable or truncated numpy file ({err})") from None
        if arr.dtype != dtype:
            raise InputError(f"{p}: record type {arr.dtype} is not the expected {dtype}")
        if arr.shape != (count,):
            raise InputError(f"{p}: {arr.shape[0] if arr.ndim else 0} records, manifest says "
                             f"{count} (truncated or replaced file)")
        return arr

    def ops(self, j: int) -> np.ndarray:
        d = self.manifest["dimms"][j]
        ops = self._load(d["ops"], OP_DTYPE, d["ops_count"])
        ends = ops["seg_start"] + ops["seg_count"]
        if len(ops) and (ends.max() > d["segments"] or (ops["seg_start"] < 0).any()):
            raise InputError(f"{self.path / d['ops']}: ops point past the segment stream")
        return ops

    def iter_segments(self, j: int) -> Iterator[np.ndarray]:
        for f in self.manifest["dimms"][j]["segment_files"]:
            yield self._load(f["path"], SEGMENT_DTYPE, f["count"])


def expand_segments(segs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """64 B requests of whole groups of segments: (byte addresses uint64, is_write bool,
    op index uint32 per request), in issue order (groups round-robin line by line)."""
    lines = segs["lines"].astype(np.int64)
    total = int(lines.sum())
    seg_of = np.repeat(np.arange(len(segs)), lines)
    first = np.cumsum(lines) - lines
    k = np.arange(total, dtype=np.int64) - first[seg_of]
    addr = segs["addr"][seg_of] + (k * segs["stride"][seg_of]).astype(np.uint64)
    width = segs["width"]
    if (width > 1).any():
        lane = segs["lane"].astype(np.int64)
        # group start (in requests) = first request of the group's lane-0 segment
        gfirst = first - lane * lines
        pos = gfirst[seg_of] + k * width[seg_of] + lane[seg_of]
        out = np.empty_like(addr)
        out[pos] = addr
        addr = out
        seg_of_sorted = np.empty_like(seg_of)
        seg_of_sorted[pos] = seg_of
        seg_of = seg_of_sorted
    return addr, segs["write"][seg_of].astype(bool), segs["op"][seg_of]


def check_groups(segs: np.ndarray, source: str) -> None:
    """Interleave groups must be complete, in lane order, with equal line counts."""
    w = segs["width"].astype(np.int64)
    if not len(segs) or (w <= 1).all():
        return
    lane = segs["lane"].astype(np.int64)
    starts = np.flatnonzero(lane == 0)
    expected = np.concatenate([[0], np.cumsum(w[starts])[:-1]])
    ok = len(starts) > 0 and bool((starts == expected).all()) and int(w[starts].sum()) == len(segs)
    if ok:
        gi = np.repeat(starts, w[starts])
        ok = bool((segs["lines"] == segs["lines"][gi]).all()) and bool(
            (lane == np.arange(len(segs)) - gi).all()) and bool((w == w[gi]).all())
    if not ok:
        raise InputError(f"{source}: malformed interleave group (lanes must run 0..width-1 with "
                         "equal line counts)")


def split_segments(segs: np.ndarray, max_requests: int) -> Iterator[np.ndarray]:
    """Slices of ``segs`` ending on group boundaries with about ``max_requests`` requests each."""
    lines = segs["lines"].astype(np.int64)
    cum = np.cumsum(lines)
    boundary = segs["lane"] == 0  # a slice may start only at a group start
    start = 0
    n = len(segs)
    while start < n:
        base = cum[start] - lines[start]
        end = int(np.searchsorted(cum, base + max_requests, side="right"))
        end = max(end, start + 1)
        while end < n and not boundary[end]:
            end += 1
        yield segs[start:end]
        start = end
