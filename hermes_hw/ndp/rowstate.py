"""Per-op DRAM row-buffer features for the fast mode: which banks an op opens at its start.

A read op of a few hundred lines is latency-bound, not bandwidth-bound: its time is set by the
banks it must activate (tRCD, and tRP first where another row is open), by the activation rate
(tRRD/tFAW) and by write turnaround / write recovery where the banks it reads were just written.
Inside a long op the streaming rate absorbs the row switches; at an op boundary they show up
whole. This module derives, for every op, from its segments (the physical addresses the NDP core
issues) and the DRAM address mapper:

* ``acts``: banks the op's *head* (its first ``n_banks`` lines) activates, i.e. whose open row
  (the row last touched by an earlier op, reads or writes) differs or that are closed;
* ``conflicts``: of those, banks that had another row open (precharge first);
* ``wconflict``: 1 if a head bank was last touched by a write op at another row (write
  recovery, then precharge), else 0;
* ``depth``: the most rows one bank must open in turn in the head (2 or more: the op crosses
  a row boundary in that bank, and the second row waits for the first one's access).

The open row of a bank is the row of the last access to it in the *tails* (last ``n_banks``
lines) of the earlier ops: a longer op rotates over every bank in its tail, so older accesses
are overwritten. Cost: O(ops x banks) with one stable radix sort by bank.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hermes_hw.lowering.ops import OP_KIND_ID, WRITE_OPS

#: bit fields of each address mapper from the least significant end of the transaction index
_FIELDS = {
    "RoBaRaCoCh": ("channel", "column", "rank", "bankgroup", "bank", "row"),
    "ChRaBaRoCo": ("column", "row", "bank", "bankgroup", "rank", "channel"),
    "RoCoBaRaCh": ("channel", "rank", "bankgroup", "bank", "column", "row"),
}
_WRITE_IDS = np.array([OP_KIND_ID[k] for k in WRITE_OPS])


def _bits(n: int) -> int:
    return max(int(n) - 1, 0).bit_length()


@dataclass(frozen=True)
class BankMap:
    """Transaction index -> (global bank id, row) of one DIMM's address mapper."""

    mapper: str
    counts: dict  # channel, rank, bankgroup, bank, row, column (transactions per row)
    tx_bytes: int = 64

    @classmethod
    def from_resolved(cls, resolved, mapper: str) -> BankMap:
        org = resolved.org
        counts = {"channel": int(org["channel"]), "rank": int(org["rank"]),
                  "bankgroup": int(org.get("bankgroup", 1) or 1), "bank": int(org["bank"]),
                  "row": int(org["row"]), "column": int(resolved.transactions_per_row)}
        return cls(mapper, counts, int(resolved.tx_bytes))

    @property
    def n_banks(self) -> int:
        c = self.counts
        return c["channel"] * c["rank"] * c["bankgroup"] * c["bank"]

    def bank_row(self, tx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Global bank id (any bijection of channel/rank/bank group/bank) and row."""
        x = tx.astype(np.int64, copy=False)
        w = {k: _bits(v) for k, v in self.counts.items()}
        fields = _FIELDS.get(self.mapper)
        if fields is not None:
            bank = np.zeros_like(x)
            off = pos = 0
            for f in fields:
                if f != "row" and f != "column" and w[f]:
                    bank |= ((x >> off) & ((1 << w[f]) - 1)) << pos
                    pos += w[f]
                off += w[f]
            row_off = sum(w[f] for f in fields[:fields.index("row")])
            return bank, (x >> row_off) & ((1 << w["row"]) - 1)
        if self.mapper == "MOP4CLXOR":  # 4 lines of a row, then ch/ra/bg/ba, column, row
            low = min(w["column"], 2)
            nbb = w["channel"] + w["rank"] + w["bankgroup"] + w["bank"]
            col = (x & ((1 << low) - 1)) | (((x >> (low + nbb))
                                             & ((1 << (w["column"] - low)) - 1)) << low)
            bank = ((x >> low) & ((1 << nbb) - 1)) ^ (col & ((1 << nbb) - 1))
            row = (x >> (w["column"] + nbb)) ^ ((col >> nbb) & ((1 << w["row"]) - 1))
            return bank, row
        # unknown mapper: one bank, rows by address (the features degrade, stay defined)
        return np.zeros(len(x), np.int64), x // max(self.counts["column"], 1)


def _ends(segs: np.ndarray, ops: np.ndarray, k: int | np.ndarray,
          k_head: int | np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Transaction addresses of every op's first ``k_head`` (default ``k``) and last ``k``
    lines (each an int or one per op): (op, tx) of the heads and (op, tx) of the tails, each
    in issue order of the op's segments, then the heads' line index in their op."""
    k_head = np.broadcast_to(np.asarray(k if k_head is None else k_head, np.int64), len(ops))
    k = np.broadcast_to(np.asarray(k, np.int64), len(ops))
    cnt = ops["seg_count"].astype(np.int64)
    has = (ops["lines"] > 0) & (cnt > 0)
    idx = np.flatnonzero(has)
    cnt = cnt[idx]
    grp = np.repeat(np.arange(len(idx)), cnt)        # op (among idx) of each segment
    first = np.cumsum(cnt) - cnt
    sid = ops["seg_start"][idx].astype(np.int64)[grp] + np.arange(len(grp)) - first[grp]
    if len(sid) == len(segs) and (len(sid) == 0 or (sid[0] == 0 and sid[-1] == len(segs) - 1
                                                     and (np.diff(sid) == 1).all())):
        sid = slice(None)                            # every segment, in order: no gather
    sl = segs["lines"][sid].astype(np.int64)
    cum = np.cumsum(sl)
    before = cum - sl - (cum[first] - sl[first])[grp]  # op lines before this segment
    after = ops["lines"][idx].astype(np.int64)[grp] - before - sl  # op lines after it
    s_addr, s_stride = segs["addr"][sid], segs["stride"][sid]
    out = []
    for take, skip in ((np.clip(k_head[idx][grp] - before, 0, sl), None),
                       (t := np.clip(k[idx][grp] - after, 0, sl), sl - t)):
        sel = np.flatnonzero(take)
        take = take[sel]
        n = int(take.sum())
        rep = np.repeat(np.arange(len(sel)), take)
        kk = np.arange(n) - np.repeat(np.cumsum(take) - take, take)
        if skip is not None:
            kk += skip[sel][rep]
        seg = sel[rep]
        addr = s_addr[seg].astype(np.int64) + kk * s_stride[seg].astype(np.int64)
        out += [idx[grp[seg]], addr]
        if skip is None:
            h_idx = before[seg] + kk
    return (*out, h_idx)


def _next_group_end(ops: np.ndarray) -> np.ndarray:
    """Per op: the index of the first write op after the first read op after it (``n`` if
    none), i.e. the end of the read group that follows a write op."""
    n = len(ops)
    has = ops["lines"] > 0
    is_w = np.isin(ops["kind"], _WRITE_IDS) & has
    is_r = ~np.isin(ops["kind"], _WRITE_IDS) & has
    pos = np.arange(n)
    # first read op strictly after each op
    nr = np.where(is_r, pos, n)
    nr = np.minimum.accumulate(nr[::-1])[::-1]
    nr = np.concatenate([nr[1:], [n]])
    # first write op at or after each position
    nw = np.where(is_w, pos, n)
    nw = np.concatenate([np.minimum.accumulate(nw[::-1])[::-1], [n]])
    return nw[nr]


def row_features(segs: np.ndarray, ops: np.ndarray, bank_map: BankMap,
                 defer_writes: bool = False, max_passes: int = 8,
                 head_lines: int | np.ndarray | None = None,
                 write_heads: bool = False,
                 tail_lines: int | np.ndarray | None = None) -> np.ndarray:
    """Per op: columns (acts, conflicts, wconflict, depth, wchain, last) as float64 (module
    docstring; ``wchain``, with ``defer_writes`` only: 1 if a head bank must first finish a
    write drained late, see below).

    ``last`` (not with ``defer_writes``: 0): the line index (in its op) of the last head line
    that activates a bank (0 if none; the frontend offers one line per cycle, so that
    activation starts that late).
    ``tail_lines`` (an int or one per op, default ``n_banks``): the lines of each op that set
    the banks' open rows. Write ops get no features (zeros) unless ``write_heads`` (not with
    ``defer_writes``): then their heads get the same features as a read op's, i.e. the banks
    the writes must activate when they are written at once, as behind a write fence
    (docs/ndp.md).

    Posted writes, ``defer_writes`` (off by default: it fits the tiny models worse,
    docs/ndp.md): a write whose bank has its row open is issued at once
    (the controller is in write mode: every earlier read has returned, so the read queue is
    empty); one that misses stays in the write queue (the next op's reads arrive within
    cycles and switch the controller back to read mode below the low watermark) and is drained
    when the rank's read queue empties again, at the end of the next read group (before the
    next write op): it opens its row there. Whether a write misses depends on the drained
    writes before it, so the hit flags are iterated to a fixed point (``max_passes``). A
    deferred write whose bank the group's last read op still reads in its tail cannot drain
    before the group ends (the bank is busy with reads until then): it is activated when the
    next write op is posted (write mode again) and the following group's first reads of that
    bank at another row wait for its activation, write and write recovery (``wchain``)."""
    n = len(ops)
    out = np.zeros((n, 6))
    if n == 0 or not (ops["lines"] > 0).any():
        return out
    k = bank_map.n_banks
    h_op, h_addr, t_op, t_addr, h_idx = _ends(
        segs, ops, k if tail_lines is None else tail_lines, head_lines)
    is_w = np.isin(ops["kind"], _WRITE_IDS)
    if defer_writes or not write_heads:
        h_keep = ~is_w[h_op]
        h_op, h_addr, h_idx = h_op[h_keep], h_addr[h_keep], h_idx[h_keep]
    if not defer_writes:
        return _at_once(h_op, h_addr, t_op, t_addr, is_w, bank_map, out, h_idx)
    wt = is_w[t_op]
    end = _next_group_end(ops)
    # events: read heads (op*4), read tails and writes issued at once (op*4+1), probes of
    # the writes (op*4: the state the write finds), drained writes ((end-1)*4+3)
    w_op, w_addr = t_op[wt], t_addr[wt]
    r_op, r_addr = t_op[~wt], t_addr[~wt]
    nw = len(w_op)
    ev_op = np.concatenate([h_op, r_op, w_op, w_op, w_op])
    bank, row = bank_map.bank_row(np.concatenate([h_addr, r_addr, w_addr, w_addr, w_addr])
                                  // bank_map.tx_bytes)
    late = np.zeros(nw, bool)
    if nw:
        # the group's last read op (before its end) still reads the write's bank in its tail
        is_r = ~is_w & (ops["lines"] > 0)
        lr = np.where(is_r, np.arange(n), -1)
        np.maximum.accumulate(lr, out=lr)
        nr = len(h_op)
        t_key = r_op.astype(np.int64) * k + bank[nr:nr + len(r_op)]
        e = end[w_op]
        last_r = lr[np.maximum(e - 1, 0)]
        late = (e < n) & (last_r > w_op) & np.isin(last_r * k + bank[nr + len(r_op):
                                                                      nr + len(r_op) + nw],
                                                    t_key)
    drain_key = np.where(late, end[w_op] * 4 + 2, end[w_op] * 4 - 1)
    key = np.concatenate([h_op * 4, r_op * 4 + 1, w_op * 4, w_op * 4 + 1,
                          drain_key]).astype(np.int64)
    # kind: 0 head, 1 read tail, 2 write probe, 3 write at once, 4 drained write (5: late)
    kind = np.repeat(np.arange(5, dtype=np.int8), [len(h_op), len(r_op), nw, nw, nw])
    kind[len(kind) - nw:][late] = 5
    wid = np.concatenate([np.full(len(h_op) + len(r_op), -1), np.tile(np.arange(nw), 3)])
    order = np.argsort(key, kind="stable")
    order = order[np.argsort(bank[order], kind="stable")]
    key, bank, row, kind, wid, op = (key[order], bank[order], row[order], kind[order],
                                     wid[order], ev_op[order])
    m = len(key)
    ev = np.arange(m)
    head = kind == 0
    own = np.zeros(m, bool)  # the previous event is a head of the same op
    own[1:] = head[1:] & head[:-1] & (key[1:] == key[:-1])
    hit = np.ones(nw, bool)  # start: every write issued at once (no deferral)
    for _ in range(max_passes):
        active = (kind == 1) | ((kind == 3) & hit[wid]) | ((kind >= 4) & ~hit[wid])
        last = np.where(active, ev, -1)
        np.maximum.accumulate(last, out=last)
        prev = np.empty_like(ev)
        prev[0] = -1
        prev[1:] = last[:-1]
        p = np.maximum(prev, 0)
        valid = (prev >= 0) & (bank[p] == bank)
        probe = kind == 2
        new_hit = np.ones(nw, bool)
        new_hit[wid[probe]] = valid[probe] & (row[p][probe] == row[probe])
        if np.array_equal(new_hit, hit):
            break
        hit = new_hit
    return _finish(out, key, bank, row, op, head, own, prev, kind[np.maximum(prev, 0)], k)


def _finish(out: np.ndarray, key: np.ndarray, bank: np.ndarray, row: np.ndarray,
            op: np.ndarray, head: np.ndarray, own: np.ndarray, prev: np.ndarray,
            prev_kind: np.ndarray, k: int, heads: tuple | None = None) -> np.ndarray:
    """Features from the events sorted by (bank, position): ``prev`` = the last state event
    before each event (-1: none), ``prev_kind`` its kind (3, 4: a write, 5: a late drain).
    ``heads`` = (the sort order of the events, op and line index of the heads, which come
    first in the unsorted events, grouped by op in issue order): for column 5."""
    n = len(out)
    ev = np.arange(len(key))
    prev = np.where(own, np.concatenate([[-1], ev[:-1]]), prev)
    p = np.maximum(prev, 0)
    prev_kind = np.where(own, 0, prev_kind)
    valid = (prev >= 0) & (bank[p] == bank)
    new_row = row[p] != row
    act = head & (~valid | new_row)
    conf = act & valid
    wconf = conf & ((prev_kind == 3) | (prev_kind == 4))
    wchain = conf & (prev_kind == 5)
    out[:, 0] = np.bincount(op[act], minlength=n)
    out[:, 1] = np.bincount(op[conf], minlength=n)
    out[op[wconf], 2] = 1.0
    out[op[wchain], 4] = 1.0
    if heads is not None and len(heads[1]):  # the last head line that must activate
        order, h_op, h_idx = heads
        a = np.empty(len(order), bool)
        a[order] = act                      # back to the unsorted events: heads first
        val = np.where(a[:len(h_op)], h_idx + 1, 0)
        starts = np.flatnonzero(np.concatenate([[True], h_op[1:] != h_op[:-1]]))
        out[h_op[starts], 5] = np.maximum(np.maximum.reduceat(val, starts) - 1, 0)
    # depth: the rows one bank must open in turn within the head (1 + in-op row switches)
    si = np.flatnonzero(own & valid & new_row)
    out[:, 3] = out[:, 0] > 0
    if len(si):
        k2 = op[si].astype(np.int64) * k + bank[si]
        run_start = np.flatnonzero(np.concatenate([[True], k2[1:] != k2[:-1]]))
        length = np.diff(np.concatenate([run_start, [len(si)]]))
        np.maximum.at(out[:, 3], op[si[run_start]], length + 1)
    return out


def _at_once(h_op: np.ndarray, h_addr: np.ndarray, t_op: np.ndarray, t_addr: np.ndarray,
             is_w: np.ndarray, bank_map: BankMap, out: np.ndarray,
             h_idx: np.ndarray) -> np.ndarray:
    """Features with every posted write acting at its place in the trace (the default):
    events = read heads and the tails of all ops, one stable radix sort by bank."""
    nh = len(h_op)
    bank, row = bank_map.bank_row(np.concatenate([h_addr, t_addr]) // bank_map.tx_bytes)
    key = np.concatenate([h_op, t_op]).astype(np.int32) * 2
    key[nh:] += 1
    order = np.argsort(key, kind="stable")
    order = order[np.argsort(bank.astype(np.int16 if bank_map.n_banks < 1 << 15
                                         else np.int64)[order], kind="stable")]
    key, bank, row = key[order], bank[order], row[order]
    tail = (key & 1).astype(bool)
    op = key >> 1
    head = ~tail
    m = len(op)
    ev = np.arange(m, dtype=np.int32)
    last_tail = np.where(tail, ev, -1)
    np.maximum.accumulate(last_tail, out=last_tail)
    prev = np.empty_like(ev)
    prev[0] = -1
    prev[1:] = last_tail[:-1]
    own = np.zeros(m, bool)  # the previous event is a head of the same op
    own[1:] = head[1:] & head[:-1] & (key[1:] == key[:-1])
    kind = np.where(is_w[op], 3, 1).astype(np.int8)
    return _finish(out, key, bank, row, op, head, own, prev, kind[np.maximum(prev, 0)],
                   bank_map.n_banks, (order, h_op, h_idx))
