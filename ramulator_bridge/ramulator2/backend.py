"""A user's Ramulator 2.0 build as a DramBackend (see hermes_hw/dram/backend.py).

The config (a validated ``DramConfig``) is turned back into Ramulator2 YAML, less the hermes-hw
extensions, and handed to Ramulator's own factory through our shim (shim.cpp). Replay runs in
C++ with the feeding of Ramulator2's LoadStoreTrace frontend, so cycle counts and statistics are
Ramulator's own. A hermes-hw feature that Ramulator 2.0 does not model is an error here, never a
silent difference; NDP access is emulated exactly (one Ramulator channel per rank, NdpRemap).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Mapping
from typing import Any

import numpy as np
import yaml

from hermes_hw.errors import InputError
from ramulator_bridge.ramulator2.build import find_install, shim

#: Controller buffer sizes that Ramulator 2.0's Generic controller has built in (ReqBuffer
#: max_size; priority buffer 512*3+32). Other values cannot be configured there.
RAMULATOR_FIXED_BUFFERS = {
    "read_buffer_size": 32,
    "write_buffer_size": 32,
    "active_buffer_size": 32,
    "priority_buffer_size": 1568,
}
#: Keys of our config schema that only hermes-hw understands.
HERMES_ONLY_KEYS = ("access_mode", "backend")
#: A drain that has not finished after this many memory cycles is reported as stuck.
DRAIN_LIMIT_CYCLES = 1_000_000_000

_ERR_LEN = 1024
_STAT_SUM = re.compile(r"^(.*)_(\d+)$")


class Ramulator2Unsupported(InputError):
    """A config feature of hermes-hw that Ramulator 2.0 does not have."""


class NdpRemap:
    """NDP access mode on Ramulator 2.0: every rank becomes a channel of its own.

    hermes-hw's NDP mode gives each rank its own controller and data path (the channel-level
    constraints apply per rank, the rank-to-rank ones vanish), which is exactly a memory system
    with channels x ranks single-rank channels. Under RoBaRaCoCh the fields above the 64 B offset
    are, from the least significant bit, channel, column, rank, ...; this moves the rank bits
    next to the channel bits, so that Ramulator's channel index is channel * ranks + rank (the
    built-in engine's controller order) and every other field keeps its value and position.
    """

    def __init__(self, channels: int, ranks: int, transactions_per_row: int, tx_bytes: int):
        for name, value in (("channel", channels), ("rank", ranks),
                            ("transactions per row", transactions_per_row),
                            ("transaction bytes", tx_bytes)):
            if value < 1 or value & (value - 1):
                raise Ramulator2Unsupported(
                    f"NDP access on Ramulator2 needs power-of-two sizes; {name} is {value}")
        self.channels, self.ranks = channels, ranks
        self.off = tx_bytes.bit_length() - 1
        self.chb = channels.bit_length() - 1
        self.colb = transactions_per_row.bit_length() - 1
        self.rkb = ranks.bit_length() - 1

    def addresses(self, addrs: np.ndarray) -> np.ndarray:
        """Byte addresses of our mapping -> byte addresses for Ramulator's channel-per-rank one."""
        a = np.asarray(addrs, dtype=np.uint64)
        u = np.uint64
        x = a >> u(self.off)
        ch = x & u((1 << self.chb) - 1)
        col = (x >> u(self.chb)) & u((1 << self.colb) - 1)
        rk = (x >> u(self.chb + self.colb)) & u((1 << self.rkb) - 1)
        rest = x >> u(self.chb + self.colb + self.rkb)
        low = self.chb + self.rkb
        y = (ch << u(self.rkb)) | rk | (col << u(low)) | (rest << u(low + self.colb))
        return (y << u(self.off)) | (a & u((1 << self.off) - 1))

    def address(self, addr: int) -> int:
        return int(self.addresses(np.array([addr], dtype=np.uint64))[0])

    def commands(self, records: np.ndarray) -> None:
        """Ramulator's channel index in a command log back to (channel, rank), in place."""
        ch = records["channel"].copy()
        records["channel"] = ch >> self.rkb
        records["rank"] = np.where(records["rank"] >= 0, ch & (self.ranks - 1), -1)


def ramulator_config(
    cfg: Any, resolved: Any = None
) -> tuple[dict[str, Any], int, NdpRemap | None]:
    """(Ramulator2 YAML mapping, frontend clock ratio, NDP remap) for a validated DramConfig.

    Controller plugins are left out: CommandCounter and TraceRecorder outputs are produced by
    hermes-hw from this backend's command counts and command log, exactly as for the built-in
    engine (Ramulator would write them relative to the working directory at exit). NDP access
    (``resolved`` needed) becomes one Ramulator channel per rank, see NdpRemap.
    """
    data = cfg.model_dump(exclude_none=True)
    source = getattr(cfg, "source", None)
    mem = data["MemorySystem"]
    remap = None
    if mem.get("access_mode", "host") == "ndp":
        mapper = mem.get("AddrMapper", {}).get("impl", "RoBaRaCoCh")
        if mapper != "RoBaRaCoCh" or resolved is None:
            raise Ramulator2Unsupported(
                "MemorySystem.access_mode: 'ndp' on Ramulator 2.0 is emulated with one channel "
                f"per rank, which needs AddrMapper RoBaRaCoCh (got {mapper}); use backend "
                "'builtin'",
                source=source,
            )
        org = resolved.org
        remap = NdpRemap(int(org["channel"]), int(org["rank"]),
                         int(resolved.transactions_per_row), int(resolved.tx_bytes))
        mem["DRAM"]["org"]["channel"] = remap.channels * remap.ranks
        mem["DRAM"]["org"]["rank"] = 1
    for key in HERMES_ONLY_KEYS:
        mem.pop(key, None)
    ctrl = mem["Controller"]
    for key, fixed in RAMULATOR_FIXED_BUFFERS.items():
        value = ctrl.pop(key, fixed)
        if value != fixed:
            raise Ramulator2Unsupported(
                f"MemorySystem.Controller.{key}: {value} cannot be set in Ramulator 2.0 "
                f"(fixed at {fixed}); remove the key or use backend 'builtin'",
                source=source,
            )
    ctrl.pop("plugins", None)
    row_policy = ctrl.get("RowPolicy", {})
    if row_policy.get("impl") != "ClosedRowPolicy":
        row_policy.pop("cap", None)
    frontend = data.get("Frontend") or {}
    return {"MemorySystem": mem}, int(frontend.get("clock_ratio", 1)), remap


def _pairs_loader() -> type[yaml.SafeLoader]:
    """A safe loader that keeps repeated keys (Ramulator prints one 'Controller' per channel)."""

    class PairsLoader(yaml.SafeLoader):
        pass

    def construct_pairs(loader: yaml.SafeLoader, node: yaml.MappingNode) -> list[tuple[Any, Any]]:
        return [
            (loader.construct_object(k, deep=True), loader.construct_object(v, deep=True))
            for k, v in node.value
        ]

    PairsLoader.add_constructor(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_pairs
    )
    return PairsLoader


_LOADER = _pairs_loader()


def flatten_stats(text: str) -> dict[str, Any]:
    """Every numeric statistic in Ramulator's stats YAML, by its (channel-suffixed) name."""
    flat: dict[str, Any] = {}

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for key, value in node:
                if isinstance(value, list):
                    walk(value)
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    flat[str(key)] = value

    walk(yaml.load(text, Loader=_LOADER))  # noqa: S506 - a SafeLoader subclass
    return flat


def _sum(flat: Mapping[str, Any], name: str) -> int:
    """Sum of ``name_<N>`` over channels N."""
    total = 0
    for key, value in flat.items():
        m = _STAT_SUM.match(key)
        if m and m.group(1) == name:
            total += int(value)
    return total


class Ramulator2Backend:
    """cffi wrapper around one Ramulator 2.0 memory system (through our shim)."""

    name = "ramulator2"

    def __init__(
        self,
        cfg: Any,
        *,
        resolved: Any = None,
        command_log: bool = False,
        record_completions: bool = False,
        root: str | None = None,
    ) -> None:
        config, frontend_ratio, self._remap = ramulator_config(cfg, resolved)
        self.install = find_install(root)
        ffi, lib = shim(self.install.root)
        self._ffi, self._lib = ffi, lib
        self._err = ffi.new(f"char[{_ERR_LEN}]")
        text = yaml.safe_dump(config, sort_keys=False)
        sim = lib.hr2_create(text.encode(), frontend_ratio, self._err, _ERR_LEN)
        if sim == ffi.NULL:
            raise InputError(
                f"Ramulator2 rejected the config: {self._error()}",
                source=getattr(cfg, "source", None),
            )
        self._sim = sim
        self._finalizer = weakref.finalize(self, lib.hr2_destroy, sim)
        self.config_yaml = text
        self.command_log_enabled = command_log
        self._record = record_completions
        lib.hr2_set_command_log(sim, int(command_log))
        self._commands = [
            ffi.string(lib.hr2_command_name(sim, i)).decode()
            for i in range(lib.hr2_num_commands(sim))
        ]
        self._capacity = int(lib.hr2_capacity_bytes(sim))

    # -- helpers -------------------------------------------------------------------------------
    def _error(self) -> str:
        return self._ffi.string(self._err).decode(errors="replace")

    def _check(self, status: int, what: str) -> int:
        if status < 0:
            raise RuntimeError(f"Ramulator2 failed in {what}: {self._error()}")
        return status

    @property
    def _live(self) -> Any:
        if self._sim is None:
            raise RuntimeError("this Ramulator2 backend was closed")
        return self._sim

    # -- DramBackend -------------------------------------------------------------------------
    @property
    def cycle(self) -> int:
        """Memory cycles simulated so far."""
        return int(self._lib.hr2_cycle(self._live))

    @property
    def tck_ns(self) -> float:
        """Ramulator's clock period (ns)."""
        return float(self._lib.hr2_tck_ns(self._live))

    def capacity_bytes(self) -> int:
        """Bytes addressable by Ramulator's organisation (all channels)."""
        return self._capacity

    def send(self, addr: int, is_write: bool, tag: int = -1) -> bool:
        """Offer one 64 B request now; True if accepted."""
        if not 0 <= addr < self._capacity:
            raise ValueError(f"address {addr:#x} is beyond the memory capacity")
        tag = tag if self._record else -1
        if self._remap is not None:
            addr = self._remap.address(addr)
        r = self._lib.hr2_send(self._live, addr, int(is_write), tag, self._err, _ERR_LEN)
        return bool(self._check(r, "send"))

    def tick(self, cycles: int = 1) -> None:
        """Advance ``cycles`` memory cycles."""
        self._check(self._lib.hr2_tick(self._live, cycles, self._err, _ERR_LEN), "tick")

    def run_trace(
        self,
        addrs: np.ndarray,
        is_write: np.ndarray,
        arrival_cycles: np.ndarray | None = None,
        base_tag: int = -1,
    ) -> int:
        """Replay a chunk (in C++); n accepted, or -(i+1) if request i is beyond capacity."""
        ffi = self._ffi
        a = np.ascontiguousarray(addrs, dtype=np.uint64)
        w = np.ascontiguousarray(is_write, dtype=np.uint8)
        if len(w) != len(a):
            raise ValueError("addrs and is_write differ in length")
        beyond = np.flatnonzero(a >= np.uint64(self._capacity))
        if beyond.size:
            return -(int(beyond[0]) + 1)
        if self._remap is not None:
            a = self._remap.addresses(a)
        arr = ffi.NULL
        if arrival_cycles is not None:
            t = np.ascontiguousarray(arrival_cycles, dtype=np.int64)
            if len(t) != len(a):
                raise ValueError("arrival_cycles and addrs differ in length")
            arr = ffi.cast("int64_t *", ffi.from_buffer(t))
        record = int(self._record and base_tag >= 0)
        n = self._lib.hr2_run_trace(
            self._live,
            ffi.cast("uint64_t *", ffi.from_buffer(a)),
            ffi.cast("uint8_t *", ffi.from_buffer(w)),
            arr,
            len(a),
            max(base_tag, 0),
            record,
            self._err,
            _ERR_LEN,
        )
        return self._check(int(n), "run_trace")

    def drain(self) -> int:
        """Run until every accepted request is served; the cycle count then."""
        n = self._lib.hr2_drain(self._live, DRAIN_LIMIT_CYCLES, self._err, _ERR_LEN)
        return self._check(int(n), "drain")

    def mark_snapshot(self) -> None:
        """Keep the statistics as they are now (call it when the last request is accepted)."""
        self._check(self._lib.hr2_mark_snapshot(self._live, self._err, _ERR_LEN), "snapshot")

    def pop_completions(self) -> tuple[np.ndarray, np.ndarray]:
        """(tags, completion cycles) of tagged reads served since the last call."""
        n = int(self._lib.hr2_completion_count(self._live))
        tags = np.empty(n, dtype=np.int64)
        cycles = np.empty(n, dtype=np.int64)
        if n:
            ffi = self._ffi
            self._lib.hr2_take_completions(
                self._live,
                ffi.cast("int64_t *", ffi.from_buffer(tags)),
                ffi.cast("int64_t *", ffi.from_buffer(cycles)),
                n,
            )
        return tags, cycles

    def take_commands(self) -> np.ndarray:
        """Issued commands since the last call, as the built-in engine's record array."""
        from ramulator_bridge.builtin import COMMAND_IDS, COMMAND_RECORD_DTYPE

        ffi = self._ffi
        n = int(self._lib.hr2_command_count(self._live))
        assert COMMAND_RECORD_DTYPE.itemsize == ffi.sizeof("hr2_command_record")
        out = np.empty(n, dtype=COMMAND_RECORD_DTYPE)
        if n:
            buf = ffi.cast("hr2_command_record *", ffi.from_buffer(out))
            self._lib.hr2_take_commands(self._live, buf, n)
            to_builtin = np.array([COMMAND_IDS.get(c, -1) for c in self._commands], np.int32)
            out["cmd"] = to_builtin[out["cmd"]]
            if self._remap is not None:
                self._remap.commands(out)
        return out

    def _stats(self, which: int) -> dict[str, Any] | None:
        ffi, lib, sim = self._ffi, self._lib, self._live
        c = ffi.new("hr2_counters *")
        if not lib.hr2_get_counters(sim, which, c):
            return None
        size = int(lib.hr2_stats_yaml(sim, which, ffi.NULL, 0))
        buf = ffi.new(f"char[{size + 1}]")
        lib.hr2_stats_yaml(sim, which, buf, size + 1)
        flat = flatten_stats(ffi.string(buf).decode())
        # averages are computed by Ramulator only at exit; we report our own (below)
        flat = {k: v for k, v in flat.items() if "avg" not in k}
        direct = int(c.reads_served) - int(c.forwarded_reads)
        out: dict[str, Any] = {
            "cycles": int(flat["memory_system_cycles"]),
            "reads": int(flat["total_num_read_requests"]),
            "writes": int(flat["total_num_write_requests"]),
        }
        for kind in ("row_hits", "row_misses", "row_conflicts"):
            out[kind] = _sum(flat, kind)
            out[f"read_{kind}"] = _sum(flat, f"read_{kind}")
            out[f"write_{kind}"] = _sum(flat, f"write_{kind}")
        out.update(
            reads_served=int(c.reads_served),
            forwarded_reads=int(c.forwarded_reads),
            writes_served=int(c.writes_served),
            read_latency_sum_cycles=int(c.read_latency_sum),
            avg_read_latency_cycles=int(c.read_latency_sum) / direct if direct else 0.0,
            max_read_latency_cycles=int(c.read_latency_max),
            commands={
                name: int(c.commands[i])
                for i, name in enumerate(self._commands)
                if not name.endswith("_end")  # internal future actions, never issued
            },
            read_queue_occupancy_sum=_sum(flat, "read_queue_len"),
            write_queue_occupancy_sum=_sum(flat, "write_queue_len"),
            ramulator2_stats=flat,
        )
        if "num_close_reqs" in flat:
            out["close_requests"] = int(flat["num_close_reqs"])
        return out

    def stats(self) -> dict[str, Any]:
        """Statistics now (Ramulator's counters plus the shim's completion counters)."""
        result = self._stats(0)
        assert result is not None
        return result

    def snapshot_stats(self) -> dict[str, Any] | None:
        """Statistics as of the last mark_snapshot(), None if there was none."""
        return self._stats(1)

    def close(self) -> None:
        """Finalize Ramulator's components and free the memory system."""
        if self._sim is not None:
            self._finalizer()
            self._sim = None


def create_backend(resolved: Any, cfg: Any, **kw: Any) -> Ramulator2Backend:
    """Registry hook used by hermes_hw.dram.memory_system.BACKENDS['ramulator2']."""
    backend = Ramulator2Backend(cfg, resolved=resolved, **kw)
    expected = getattr(resolved, "capacity_bytes", None)
    if expected is not None and int(expected) != backend.capacity_bytes():
        backend.close()
        raise InputError(
            f"Ramulator2 resolves this organisation to {backend.capacity_bytes()} bytes, "
            f"hermes-hw to {expected}: the two disagree on the config",
            source=getattr(cfg, "source", None),
        )
    return backend
