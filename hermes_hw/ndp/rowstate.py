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


def _ends(segs: np.ndarray, ops: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """Transaction addresses of every op's first ``k`` and last ``k`` lines: (op, tx) of the
    heads and (op, tx) of the tails, each in issue order of the op's segments."""
    cnt = ops["seg_count"].astype(np.int64)
    has = (ops["lines"] > 0) & (cnt > 0)
    idx = np.flatnonzero(has)
    cnt = cnt[idx]
    op_of = np.repeat(idx, cnt)
    first = np.cumsum(cnt) - cnt
    sid = ops["seg_start"][idx].astype(np.int64)[np.repeat(np.arange(len(idx)), cnt)] \
        + np.arange(int(cnt.sum())) - np.repeat(first, cnt)
    s = segs[sid]
    sl = s["lines"].astype(np.int64)
    cum = np.cumsum(sl)
    op_base = np.repeat(cum[first] - sl[first], cnt)
    before = cum - sl - op_base                      # op lines before this segment
    total = np.repeat(ops["lines"][idx].astype(np.int64), cnt)
    after = total - before - sl                      # op lines after it
    out = []
    for take, skip in ((np.clip(k - before, 0, sl), np.zeros_like(sl)),
                       (t := np.clip(k - after, 0, sl), sl - t)):
        n = int(take.sum())
        rep = np.repeat(np.arange(len(sl)), take)
        kk = np.arange(n) - np.repeat(np.cumsum(take) - take, take) + skip[rep]
        addr = s["addr"][rep].astype(np.int64) + kk * s["stride"][rep].astype(np.int64)
        out += [op_of[rep], addr]
    return tuple(out)


def row_features(segs: np.ndarray, ops: np.ndarray, bank_map: BankMap) -> np.ndarray:
    """Per op: columns (acts, conflicts, wconflict, depth) as float64 (module docstring)."""
    n = len(ops)
    out = np.zeros((n, 4))
    if n == 0 or not (ops["lines"] > 0).any():
        return out
    h_op, h_addr, t_op, t_addr = _ends(segs, ops, bank_map.n_banks)
    nh = len(h_op)
    bank, row = bank_map.bank_row(np.concatenate([h_addr, t_addr]) // bank_map.tx_bytes)
    # event order: by bank, then op, head before tail, issue order (two stable sorts)
    key = np.concatenate([h_op, t_op]).astype(np.int32) * 2
    key[nh:] += 1
    order = np.argsort(key, kind="stable")
    order = order[np.argsort(bank.astype(np.int16 if bank_map.n_banks < 1 << 15
                                         else np.int64)[order], kind="stable")]
    key, bank, row = key[order], bank[order], row[order]
    tail = (key & 1).astype(bool)
    op = key >> 1
    # the state a head event sees: the previous event of its bank, if that is a tail (of an
    # earlier op) or a head of the same op (already activated by it); heads of earlier ops
    # are always followed by their own tail, so the latest tail before suffices
    m = len(op)
    ev = np.arange(m, dtype=np.int32)
    last_tail = np.where(tail, ev, -1)
    np.maximum.accumulate(last_tail, out=last_tail)
    own = np.zeros(m, bool)  # the previous event is a head of the same op
    own[1:] = (key[1:] == key[:-1]) & ~tail[1:]
    prev = np.empty_like(ev)
    prev[0] = -1
    prev[1:] = np.where(own[1:], ev[:-1], last_tail[:-1])
    p = np.maximum(prev, 0)
    valid = (prev >= 0) & (bank[p] == bank)
    new_row = row[p] != row
    head = ~tail
    act = head & (~valid | new_row)
    conf = act & valid
    is_w = np.isin(ops["kind"], _WRITE_IDS)
    opp = op[p]
    wconf = conf & is_w[opp] & (opp != op)
    out[:, 0] = np.bincount(op[act], minlength=n)
    out[:, 1] = np.bincount(op[conf], minlength=n)
    out[op[wconf], 2] = 1.0
    # depth: the rows one bank must open in turn within the head (1 + in-op row switches)
    si = np.flatnonzero(own & valid & new_row)
    out[:, 3] = out[:, 0] > 0
    if len(si):
        k2 = op[si].astype(np.int64) * bank_map.n_banks + bank[si]
        run_start = np.flatnonzero(np.concatenate([[True], k2[1:] != k2[:-1]]))
        length = np.diff(np.concatenate([run_start, [len(si)]]))
        np.maximum.at(out[:, 3], op[si[run_start]], length + 1)
    return out
