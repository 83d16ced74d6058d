"""Place a whole model in the NDP-DIMMs' address spaces and turn accesses into segments.

Per DIMM, in allocation order: a striped reservation for its share of the dense weights (all
weights live on the DIMMs; the lowering never reads them), then per block the slots of the
neurons homed there (ascending model id) plus spare slots for remapping, then the KV cache, then
a scratch area for partial results. A neuron's bytes are contiguous in its space, its first byte
aligned to ``neuron_align_bytes``.
"""

from __future__ import annotations

import numpy as np

from hermes_hw.errors import InputError
from hermes_hw.layout.base import LINE_BYTES, SEGMENT_DTYPE, DimmGeometry, make_policy
from hermes_hw.ndp.config import LayoutConfig

_GIB = 2**30


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def balance_homes(homes: np.ndarray, n_dimms: int) -> np.ndarray:
    """Give every neuron with home -1 a DIMM, filling the emptiest DIMMs first (deterministic)."""
    out = homes.astype(np.int8, copy=True)
    todo = np.flatnonzero(out < 0)
    if not len(todo):
        return out
    counts = np.bincount(out[out >= 0], minlength=n_dimms)
    target = _ceil_div(len(out), n_dimms)
    deficit = np.maximum(target - counts, 0)
    fill = np.repeat(np.arange(n_dimms, dtype=np.int8), deficit)
    if len(fill) < len(todo):  # over-full DIMMs: deal the rest round-robin
        fill = np.concatenate([fill, np.arange(len(todo) - len(fill)) % n_dimms])
    out[todo] = fill[: len(todo)]
    return out


class ModelLayout:
    """The address layout of one model on ``n_dimms`` NDP-DIMMs.

    ``homes[b]``: home DIMM of every neuron of block ``b`` (model id order, int8; -1 = not
    known, placed to balance). ``batch`` and ``max_context_tokens`` size the KV cache.
    """

    def __init__(self, model, n_dimms: int, geometry: DimmGeometry, config: LayoutConfig,
                 homes: list[np.ndarray] | None, *, batch: int, max_context_tokens: int,
                 element_bytes: int = 2) -> None:
        if config.neuron_align_bytes % LINE_BYTES:
            raise InputError(f"neuron_align_bytes must be a multiple of 64, got "
                             f"{config.neuron_align_bytes}", source="layout.neuron_align_bytes")
        self.model, self.n_dimms, self.geometry, self.config = model, n_dimms, geometry, config
        self.policy = make_policy(config.policy, geometry)
        self.batch, self.max_context, self.eb = batch, max_context_tokens, element_bytes
        R = self.policy.spaces
        self.R = R
        self._next = np.zeros((n_dimms, R), dtype=np.int64)  # per-space bump pointer (lines)
        self.usage = {k: np.zeros(n_dimms, dtype=np.int64) for k in
                      ("dense", "neurons", "spare", "kv", "scratch")}
        blocks = model.blocks
        if homes is None:
            homes = [np.full(g.count, -1, np.int8) for g in blocks]
        if len(homes) != len(blocks):
            raise InputError(f"homes: expected {len(blocks)} blocks, got {len(homes)}")
        # dense weights: striped reservation of each DIMM's share
        dense_lines = _ceil_div(_ceil_div(model.dense_bytes, n_dimms), LINE_BYTES)
        for j in range(n_dimms):
            self._striped(j, dense_lines, "dense")
        # neurons
        self.neuron_lines = [_ceil_div(_ceil_div(g.bytes_per_neuron, config.neuron_align_bytes)
                                       * config.neuron_align_bytes, LINE_BYTES) for g in blocks]
        self.home: list[np.ndarray] = []
        self.space: list[np.ndarray] = []
        self.line: list[np.ndarray] = []
        self._spare: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for b, g in enumerate(blocks):
            h = np.asarray(homes[b])
            if h.shape != (g.count,):
                raise InputError(f"homes[{b}]: expected {g.count} neurons, got {h.shape}")
            if (h >= n_dimms).any():
                raise InputError(f"homes[{b}]: DIMM {int(h.max())} >= {n_dimms} DIMMs")
            h = balance_homes(h, n_dimms)
            sp = np.zeros(g.count, np.int8)
            ln = np.zeros(g.count, np.int64)
            L = self.neuron_lines[b]
            for j in range(n_dimms):
                ids = np.flatnonzero(h == j)
                n = len(ids)
                spare = _ceil_div(int(round(config.remap_headroom * n * 1000)), 1000)
                slots = np.arange(n + spare)
                s_space = slots % R
                s_line = self._next[j, s_space] + (slots // R) * L
                sp[ids], ln[ids] = s_space[:n], s_line[:n]
                self._spare[(b, j)] = list(zip(s_space[n:][::-1].tolist(),
                                               s_line[n:][::-1].tolist(), strict=True))
                per_space = np.bincount(s_space, minlength=R)
                self._next[j] += per_space * L
                self.usage["neurons"][j] += n * L * LINE_BYTES
                self.usage["spare"][j] += spare * L * LINE_BYTES
            self.home.append(h)
            self.space.append(sp)
            self.line.append(ln)
        # KV cache
        self._kv_layout()
        # scratch: the largest partial result of a block for the batch
        out_elems = max(model.q_dim + 2 * model.kv_dim, model.hidden_size)
        self.scratch_bytes = batch * out_elems * element_bytes
        self.scratch_line = [self._striped(j, _ceil_div(self.scratch_bytes, LINE_BYTES), "scratch")
                             for j in range(n_dimms)]
        self._check_capacity()

    # -- allocation -----------------------------------------------------------------------------
    def _striped(self, j: int, lines: int, what: str) -> int:
        """Reserve ``lines`` physical lines striped over all spaces; returns the first line."""
        per_space = _ceil_div(lines, self.R)
        k0 = int(self._next[j].max())
        self._next[j] = k0 + per_space
        self.usage[what][j] += per_space * self.R * LINE_BYTES
        return self.policy.striped_physical_line(k0)

    def _kv_layout(self) -> None:
        m, n, B = self.model, self.n_dimms, self.batch
        hd, H = m.head_dim, m.num_kv_heads
        self.pos_bytes = hd * self.eb  # one position of one head, K or V
        if self.config.kv_partition == "head":
            # KV head h on DIMM h % n; per (layer, head, request): K then V, max_context each
            self.kv_heads_of = [list(range(j, H, n)) for j in range(n)]
            self.kv_positions_of = None
            cap_pos = self.max_context
        else:
            self.kv_heads_of = [list(range(H)) for _ in range(n)]
            cap_pos = _ceil_div(self.max_context, n)
        region = _ceil_div(cap_pos * self.pos_bytes, LINE_BYTES)  # lines of one K or V region
        self.kv_region_lines = region
        self.kv_base: dict[tuple[int, int, int, int], int] = {}  # (dimm, layer, head, req) -> K
        for j in range(n):
            heads = self.kv_heads_of[j]
            if not heads:
                continue
            total = m.num_layers * len(heads) * B * 2 * region
            base = self._striped(j, total, "kv")
            k = 0
            for layer in range(m.num_layers):
                for h in heads:
                    for e in range(B):
                        self.kv_base[(j, layer, h, e)] = base + k
                        k += 2 * region  # V region follows at + region

    def _check_capacity(self) -> None:
        cap_space = self.geometry.capacity_lines // self.R
        used = self._next.max(axis=1)
        worst = int(np.argmax(used))
        if used[worst] > cap_space:
            u = {k: v[worst] / _GIB for k, v in self.usage.items()}
            need = used[worst] * self.R * LINE_BYTES / _GIB
            raise InputError(
                f"the layout needs {need:.2f} GiB on DIMM {worst} but a DIMM has "
                f"{self.geometry.capacity_bytes / _GIB:.2f} GiB (neurons {u['neurons']:.2f}, "
                f"remap spare {u['spare']:.2f}, dense weights {u['dense']:.2f}, KV cache "
                f"{u['kv']:.2f}, scratch {u['scratch']:.3f} GiB); use more DIMMs, a smaller "
                f"batch or context, or a smaller layout.remap_headroom")

    def used_bytes(self) -> np.ndarray:
        return self._next.max(axis=1) * self.R * LINE_BYTES

    # -- remapping --------------------------------------------------------------------------------
    def remap(self, b: int, ids: np.ndarray, src: np.ndarray, dst: np.ndarray) -> None:
        """Move neurons of block ``b`` between DIMMs (window remapping): each gets a free slot on
        its destination; its old slot becomes free for later moves onto the source."""
        h = self.home[b]
        for i, s, d in zip(np.asarray(ids).tolist(), np.asarray(src).tolist(),
                           np.asarray(dst).tolist(), strict=True):
            if h[i] != s:
                raise InputError(f"remap of neuron {i} (block {b}) from DIMM {s}, but its home "
                                 f"is DIMM {int(h[i])}")
            free = self._spare[(b, d)]
            if not free:
                raise InputError(f"no free neuron slot on DIMM {d} for block {b}: raise "
                                 f"layout.remap_headroom (now {self.config.remap_headroom})")
            self._spare[(b, s)].append((int(self.space[b][i]), int(self.line[b][i])))
            sp, ln = free.pop()
            self.space[b][i], self.line[b][i], h[i] = sp, ln, d

    # -- accesses -> segments -------------------------------------------------------------------
    def neuron_segments(self, b: int, j: int, ids: np.ndarray) -> np.ndarray:
        """Read segments of whole neurons ``ids`` of block ``b`` on DIMM ``j``.

        Interleaved layouts merge neurons that are adjacent in memory into one segment;
        multi-space layouts emit one segment per neuron, grouped one neuron per space."""
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return np.zeros(0, SEGMENT_DTYPE)
        wrong = self.home[b][ids] != j
        if wrong.any():
            i = int(ids[np.argmax(wrong)])
            raise InputError(f"work list: neuron {i} of block {b} is listed on DIMM {j} but its "
                             f"home is DIMM {int(self.home[b][i])}")
        L = self.neuron_lines[b]
        sp = self.space[b][ids].astype(np.int64)
        ln = self.line[b][ids]
        if self.R == 1:
            order = np.argsort(ln, kind="stable")
            ln = ln[order]
            brk = np.flatnonzero(np.diff(ln) != L) + 1
            starts = np.concatenate([[0], brk])
            counts = np.diff(np.concatenate([starts, [len(ln)]]))
            seg = np.zeros(len(starts), SEGMENT_DTYPE)
            seg["addr"] = ln[starts] * LINE_BYTES
            seg["lines"] = counts * L
            seg["stride"] = LINE_BYTES
            seg["width"] = 1
            return seg
        order = np.lexsort((ln, sp))
        sp, ln = sp[order], ln[order]
        first = np.searchsorted(sp, np.arange(self.R))
        rank_in_space = np.arange(len(sp)) - first[sp]
        # group g = the g-th neuron of every space; issue groups in order
        gorder = np.lexsort((sp, rank_in_space))
        sp, ln, g = sp[gorder], ln[gorder], rank_in_space[gorder]
        gstart = np.flatnonzero(np.concatenate([[True], g[1:] != g[:-1]]))
        gsize = np.diff(np.concatenate([gstart, [len(g)]]))
        seg = np.zeros(len(sp), SEGMENT_DTYPE)
        seg["addr"] = self.policy.physical_line(sp, ln) * LINE_BYTES
        seg["lines"] = L
        seg["stride"] = self.policy.neuron_stride_bytes()
        seg["width"] = np.repeat(gsize, gsize)
        seg["lane"] = np.arange(len(sp)) - np.repeat(gstart, gsize)
        return seg

    def kv_segments(self, j: int, layer: int, ctx: int, which: str) -> tuple[np.ndarray, int]:
        """Read segments of the K (``which='K'``) or V cache of ``ctx`` positions held by DIMM
        ``j`` for ``layer`` (all its heads, all requests); returns (segments, payload bytes)."""
        pos = self.local_positions(j, ctx)
        heads = self.kv_heads_of[j]
        if pos == 0 or not heads:
            return np.zeros(0, SEGMENT_DTYPE), 0
        off = 0 if which == "K" else self.kv_region_lines
        bases = [self.kv_base[(j, layer, h, e)] + off for h in heads for e in range(self.batch)]
        seg = np.zeros(len(bases), SEGMENT_DTYPE)
        seg["addr"] = np.array(bases, dtype=np.int64) * LINE_BYTES
        seg["lines"] = _ceil_div(pos * self.pos_bytes, LINE_BYTES)
        seg["stride"] = LINE_BYTES
        seg["width"] = 1
        return seg, len(bases) * pos * self.pos_bytes

    def local_positions(self, j: int, ctx: int) -> int:
        """Context positions (of ``ctx``) whose K/V DIMM ``j`` holds."""
        if self.config.kv_partition == "head":
            return ctx if self.kv_heads_of[j] else 0
        return len(range(j, ctx, self.n_dimms))

    def kv_append_segments(self, j: int, layer: int, position: int) -> tuple[np.ndarray, int]:
        """Write segments appending K and V of context ``position`` (0-based) on DIMM ``j``."""
        n = self.n_dimms
        if self.config.kv_partition == "head":
            local = position
        else:
            if position % n != j:
                return np.zeros(0, SEGMENT_DTYPE), 0
            local = position // n
        heads = self.kv_heads_of[j]
        if not heads:
            return np.zeros(0, SEGMENT_DTYPE), 0
        first = local * self.pos_bytes // LINE_BYTES
        last = ((local + 1) * self.pos_bytes - 1) // LINE_BYTES
        addrs = []
        for h in heads:
            for e in range(self.batch):
                base = self.kv_base[(j, layer, h, e)]
                addrs += [base + first, base + self.kv_region_lines + first]
        seg = np.zeros(len(addrs), SEGMENT_DTYPE)
        seg["addr"] = np.array(addrs, dtype=np.int64) * LINE_BYTES
        seg["lines"] = last - first + 1
        seg["stride"] = LINE_BYTES
        seg["write"] = 1
        seg["width"] = 1
        return seg, len(addrs) * self.pos_bytes

    def scratch_segments(self, j: int, nbytes: int) -> np.ndarray:
        """Write segments storing a partial result of ``nbytes`` in DIMM ``j``'s scratch area."""
        if nbytes <= 0:
            return np.zeros(0, SEGMENT_DTYPE)
        seg = np.zeros(1, SEGMENT_DTYPE)
        seg["addr"] = self.scratch_line[j] * LINE_BYTES
        seg["lines"] = _ceil_div(nbytes, LINE_BYTES)
        seg["stride"] = LINE_BYTES
        seg["write"] = 1
        seg["width"] = 1
        return seg
