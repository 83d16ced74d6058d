"""The built-in C engine as a DramBackend (see hermes_hw/dram/backend.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ramulator_bridge import engine

COMMAND_IDS = {"ACT": 0, "PRE": 1, "PREA": 2, "PREsb": 3, "RD": 4, "WR": 5, "RDA": 6, "WRA": 7,
               "REFab": 8, "REFsb": 9}
COMMAND_NAMES = tuple(COMMAND_IDS)
LEVEL_IDS = {"channel": 0, "rank": 1, "bankgroup": 2, "bank": 3}

_UNIT_FUNCS = {
    "scheduler": "hd_scheduler_name",
    "row policy": "hd_row_policy_name",
    "refresh manager": "hd_refresh_name",
    "address mapper": "hd_mapper_name",
}
_UNIT_IDS = {
    "scheduler": "hd_scheduler_id",
    "row policy": "hd_row_policy_id",
    "refresh manager": "hd_refresh_id",
    "address mapper": "hd_mapper_id",
}

COMMAND_RECORD_DTYPE = np.dtype(
    [("cycle", "<i8"), ("channel", "<i4"), ("rank", "<i4"), ("bankgroup", "<i4"),
     ("bank", "<i4"), ("row", "<i4"), ("column", "<i4"), ("cmd", "<i4")],
    align=True,  # same padding as the C struct hd_command_record
)


def unit_names(kind: str) -> list[str]:
    """Names registered in the C engine for a kind of unit (scheduler, row policy, ...)."""
    ffi, lib = engine()
    func = getattr(lib, _UNIT_FUNCS[kind])
    names = []
    for i in range(64):
        name = func(i)
        if name == ffi.NULL:
            break
        names.append(ffi.string(name).decode())
    return names


def _unit_id(kind: str, name: str) -> int:
    ffi, lib = engine()
    return int(getattr(lib, _UNIT_IDS[kind])(name.encode()))


class BuiltinBackend:
    """cffi wrapper around one hd_system."""

    name = "builtin"

    def __init__(self, resolved: Any, cfg: Any, *, command_log: bool = False,
                 record_completions: bool = False, reference_scheduling: bool = False) -> None:
        ffi, lib = engine()
        self._ffi, self._lib = ffi, lib
        c = ffi.new("hd_config *")
        org = resolved.org
        c.channels, c.ranks = org["channel"], org["rank"]
        c.bankgroups, c.banks = org["bankgroup"], org["bank"]
        c.rows, c.columns = org["row"], resolved.transactions_per_row
        c.tx_offset_bits = int(resolved.tx_bytes).bit_length() - 1
        t = resolved.timings
        for cmd in resolved.standard.commands:
            c.cmd_present[COMMAND_IDS[cmd]] = 1
        for cmd, timing in resolved.standard.refresh_busy.items():
            c.cmd_busy_cycles[COMMAND_IDS[cmd]] = t[timing]
        cons = resolved.constraints
        if len(cons) > lib.HD_MAX_CONSTRAINTS:
            raise ValueError("too many timing constraints")
        c.num_constraints = len(cons)
        for i, (level, prev, nxt, lat, window, sibling) in enumerate(cons):
            c.con_level[i] = level
            c.con_prev[i] = COMMAND_IDS[prev]
            c.con_next[i] = COMMAND_IDS[nxt]
            c.con_latency[i] = lat
            c.con_window[i] = window
            c.con_sibling[i] = int(sibling)
        c.nREFI = t["nREFI"]
        c.read_latency = resolved.read_latency_cycles
        ms = cfg.MemorySystem
        ctrl = ms.Controller
        c.ndp_mode = int(ms.access_mode == "ndp")
        c.read_buffer_max = ctrl.read_buffer_size
        c.write_buffer_max = ctrl.write_buffer_size
        c.active_buffer_max = ctrl.active_buffer_size
        c.priority_buffer_max = ctrl.priority_buffer_size
        c.wr_low_watermark = ctrl.wr_low_watermark
        c.wr_high_watermark = ctrl.wr_high_watermark
        c.scheduler = _unit_id("scheduler", ctrl.Scheduler.impl)
        c.row_policy = _unit_id("row policy", ctrl.RowPolicy.impl)
        c.row_policy_cap = ctrl.RowPolicy.cap
        c.refresh = _unit_id("refresh manager", ctrl.RefreshManager.impl)
        c.mapper = _unit_id("address mapper", ms.AddrMapper.impl)
        c.memory_clock_ratio = ms.clock_ratio
        c.command_log = int(command_log)
        c.record_completions = int(record_completions)
        c.reference_scheduling = int(reference_scheduling)  # tests: uncached scheduler passes
        err = ffi.new("char[256]")
        sys = lib.hd_create(c, err, 256)
        if sys == ffi.NULL:
            raise ValueError(ffi.string(err).decode())
        self._sys = ffi.gc(sys, lib.hd_destroy)
        self.command_log_enabled = command_log

    # -- DramBackend -------------------------------------------------------------------------
    @property
    def cycle(self) -> int:
        return int(self._lib.hd_cycle(self._sys))

    def send(self, addr: int, is_write: bool, tag: int = -1) -> bool:
        r = self._lib.hd_send(self._sys, addr, int(is_write), tag)
        if r < 0:
            raise ValueError(f"address {addr:#x} is beyond the memory capacity")
        return bool(r)

    def tick(self, cycles: int = 1) -> None:
        self._lib.hd_tick(self._sys, cycles)

    def tick_until_completions(self, count: int, max_cycles: int) -> int:
        """Tick one memory cycle at a time, at least once, until ``count`` read completions wait
        in :meth:`pop_completions` or ``max_cycles`` passed (in C); returns the cycles ticked."""
        return int(self._lib.hd_tick_until_completions(self._sys, count, max_cycles))

    def _pointer(self, array: np.ndarray | None, dtype: type, ctype: str) -> tuple[Any, Any]:
        """(contiguous array to keep alive, C pointer to it); NULL for None."""
        if array is None:
            return None, self._ffi.NULL
        a = np.ascontiguousarray(array, dtype=dtype)
        return a, self._ffi.cast(ctype, self._ffi.from_buffer(a))

    def run_trace(self, addrs: np.ndarray, is_write: np.ndarray,
                  arrival_cycles: np.ndarray | None = None, base_tag: int = -1,
                  accepted_cycles: np.ndarray | None = None) -> int:
        """Replay a chunk; returns n accepted or -(i+1) if request i is beyond capacity.
        ``accepted_cycles`` (int64, len n), when given, receives each request's acceptance
        cycle (the memory cycle count when it entered a queue)."""
        a, a_ptr = self._pointer(addrs, np.uint64, "uint64_t *")
        w, w_ptr = self._pointer(is_write, np.uint8, "uint8_t *")
        t, arr = self._pointer(arrival_cycles, np.int64, "int64_t *")
        if accepted_cycles is not None:
            if accepted_cycles.dtype != np.int64 or len(accepted_cycles) != len(a) or \
                    not accepted_cycles.flags.c_contiguous:
                raise ValueError("accepted_cycles must be a contiguous int64 array of len(addrs)")
            out = self._ffi.cast("int64_t *", self._ffi.from_buffer(accepted_cycles))
            return int(self._lib.hd_run_trace_record(self._sys, a_ptr, w_ptr, arr, len(a),
                                                     base_tag, out))
        return int(self._lib.hd_run_trace(self._sys, a_ptr, w_ptr, arr, len(a), base_tag))

    def run_trace_vectors(self, vecs: np.ndarray, is_write: np.ndarray,
                          arrival_cycles: np.ndarray | None = None, base_tag: int = -1) -> int:
        """Replay address vectors (n x 6: channel, rank, bankgroup, bank, row, column), bypassing
        the address mapper; returns n accepted or -(i+1) if vector i is outside the memory."""
        v, v_ptr = self._pointer(vecs, np.int32, "int32_t *")
        w, w_ptr = self._pointer(is_write, np.uint8, "uint8_t *")
        t, arr = self._pointer(arrival_cycles, np.int64, "int64_t *")
        return int(self._lib.hd_run_trace_vectors(self._sys, v_ptr, w_ptr, arr, len(v), base_tag))

    def drain(self) -> int:
        return int(self._lib.hd_drain(self._sys))

    def mark_snapshot(self) -> None:
        self._lib.hd_mark_snapshot(self._sys)

    def writes_outstanding(self) -> int:
        """Accepted write requests whose WR / WRA command has not been issued yet."""
        st = getattr(self, "_wst", None)
        if st is None:
            st = self._wst = self._ffi.new("hd_stats *")
        self._lib.hd_get_stats(self._sys, st)
        return int(st.writes) - int(st.commands[COMMAND_IDS["WR"]]) - \
            int(st.commands[COMMAND_IDS["WRA"]])

    def pop_completions(self) -> tuple[np.ndarray, np.ndarray]:
        n = int(self._lib.hd_completion_count(self._sys))
        tags = np.empty(n, dtype=np.int64)
        cycles = np.empty(n, dtype=np.int64)
        if n:
            ffi = self._ffi
            self._lib.hd_take_completions(self._sys, ffi.cast("int64_t *", ffi.from_buffer(tags)),
                                          ffi.cast("int64_t *", ffi.from_buffer(cycles)), n)
        return tags, cycles

    def take_commands(self) -> np.ndarray:
        """Issued commands since the last call (structured array, COMMAND_RECORD_DTYPE)."""
        n = int(self._lib.hd_command_count(self._sys))
        assert COMMAND_RECORD_DTYPE.itemsize == self._ffi.sizeof("hd_command_record")
        out = np.empty(n, dtype=COMMAND_RECORD_DTYPE)
        if n:
            buf = self._ffi.cast("hd_command_record *", self._ffi.from_buffer(out))
            self._lib.hd_take_commands(self._sys, buf, n)
        return out

    def decode(self, addr: int) -> tuple[int, ...]:
        out = self._ffi.new("int64_t[6]")
        self._lib.hd_decode(self._sys, addr, out)
        return tuple(int(x) for x in out)

    def capacity_bytes(self) -> int:
        return int(self._lib.hd_capacity_bytes(self._sys))

    def _stats_dict(self, st: Any) -> dict[str, Any]:
        reads_served = int(st.reads_served) - int(st.forwarded_reads)
        return {
            "cycles": int(st.cycles),
            "reads": int(st.reads),
            "writes": int(st.writes),
            "row_hits": int(st.row_hits),
            "row_misses": int(st.row_misses),
            "row_conflicts": int(st.row_conflicts),
            "read_row_hits": int(st.read_row_hits),
            "read_row_misses": int(st.read_row_misses),
            "read_row_conflicts": int(st.read_row_conflicts),
            "write_row_hits": int(st.write_row_hits),
            "write_row_misses": int(st.write_row_misses),
            "write_row_conflicts": int(st.write_row_conflicts),
            "reads_served": int(st.reads_served),
            "forwarded_reads": int(st.forwarded_reads),
            "read_latency_sum_cycles": int(st.read_latency_sum),
            "avg_read_latency_cycles": (int(st.read_latency_sum) / reads_served
                                        if reads_served else 0.0),
            "max_read_latency_cycles": int(st.read_latency_max),
            "commands": {name: int(st.commands[i]) for name, i in COMMAND_IDS.items()},
            "refresh_requests": int(st.refresh_requests),
            "close_requests": int(st.close_requests),
            "read_queue_occupancy_sum": int(st.read_queue_occupancy_sum),
            "write_queue_occupancy_sum": int(st.write_queue_occupancy_sum),
        }

    def stats(self) -> dict[str, Any]:
        """Totals, plus ``per_controller``: one entry per channel (per rank in NDP mode)."""
        st = self._ffi.new("hd_stats *")
        self._lib.hd_get_stats(self._sys, st)
        out = self._stats_dict(st)
        out["per_controller"] = self.controller_stats()
        return out

    def controller_stats(self) -> list[dict[str, Any]]:
        ffi, lib = self._ffi, self._lib
        st = ffi.new("hd_stats *")
        ch, rank = ffi.new("int32_t *"), ffi.new("int32_t *")
        out = []
        for k in range(lib.hd_controller_count(self._sys)):
            lib.hd_get_controller_stats(self._sys, k, st, ch, rank)
            d = self._stats_dict(st)
            d["channel"] = int(ch[0])
            d["rank"] = None if rank[0] < 0 else int(rank[0])
            out.append(d)
        return out

    def snapshot_stats(self) -> dict[str, Any] | None:
        st = self._ffi.new("hd_stats *")
        if not self._lib.hd_get_snapshot(self._sys, st):
            return None
        return self._stats_dict(st)

    def latency_histogram(self) -> np.ndarray:
        out = np.zeros(8192, dtype=np.int64)
        n = self._lib.hd_latency_histogram(
            self._sys, self._ffi.cast("int64_t *", self._ffi.from_buffer(out)), len(out))
        return out[:n]

    def close(self) -> None:
        self._sys = None
