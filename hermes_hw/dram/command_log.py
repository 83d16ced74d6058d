"""DRAM command logs: one row per issued command, as numpy columns.

The text form is Ramulator2's TraceRecorder output, one command per line::

    clk, CMD, channel, rank, bankgroup, bank, row, column
    23, RD, 0, 0, 0, 0, 0, 0
    12484, PREA, 0, 0, -1, -1, -1, -1

``clk`` is the memory cycle of issue; fields a command does not use are -1; ``column`` is the
transaction (64 B) index within the row. For a PRE the row is the row the request behind it
wants, not the row being closed. Files may be gzip-compressed (detected from the content).
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hermes_hw.errors import InputError

#: Command names with fixed codes (code = position); other names found in a log are appended.
COMMAND_NAMES: tuple[str, ...] = (
    "ACT", "PRE", "PREA", "PREsb", "RD", "WR", "RDA", "WRA", "REFab", "REFsb",
)  # fmt: skip
FIELDS: tuple[str, ...] = ("channel", "rank", "bankgroup", "bank", "row", "column")
_EXPECTED = (
    "expected 'clk, CMD, channel, rank, bankgroup, bank, row, column' (integers, -1 = unused)"
)
_LINE = re.compile(
    r"^[ \t]*(\d+)[ \t]*,[ \t]*([A-Za-z_][A-Za-z0-9_]*)"
    + r"[ \t]*,[ \t]*(-?\d+)" * 6
    + r"[ \t]*\r?$",
    re.M,
)
_INT32_MAX = 2**31 - 1


@dataclass(eq=False)
class CommandLog:
    """Issued DRAM commands in issue order. Columns are numpy arrays of equal length:
    ``cycle`` int64 (memory cycles), ``cmd`` uint8 (index into ``command_names``), and int32
    ``channel``, ``rank``, ``bankgroup``, ``bank``, ``row``, ``column`` (-1 = not used)."""

    cycle: np.ndarray
    cmd: np.ndarray
    channel: np.ndarray
    rank: np.ndarray
    bankgroup: np.ndarray
    bank: np.ndarray
    row: np.ndarray
    column: np.ndarray
    command_names: tuple[str, ...] = COMMAND_NAMES
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        self.cycle = np.ascontiguousarray(self.cycle, dtype=np.int64)
        self.cmd = np.ascontiguousarray(self.cmd, dtype=np.uint8)
        for name in FIELDS:
            setattr(self, name, np.ascontiguousarray(getattr(self, name), dtype=np.int32))
        n = len(self.cycle)
        if any(len(getattr(self, c)) != n for c in ("cmd", *FIELDS)):
            raise ValueError("all CommandLog columns must have the same length")
        if n and int(self.cmd.max()) >= len(self.command_names):
            raise ValueError("CommandLog.cmd has codes without a name in command_names")

    def __len__(self) -> int:
        return len(self.cycle)

    def __eq__(self, other: object) -> bool:
        """Same commands (compared by name) in the same order; the source is not compared."""
        if not isinstance(other, CommandLog) or len(self) != len(other):
            return False
        mine = np.array(self.command_names, dtype=object)[self.cmd]
        theirs = np.array(other.command_names, dtype=object)[other.cmd]
        return bool((mine == theirs).all()) and all(
            np.array_equal(getattr(self, c), getattr(other, c)) for c in ("cycle", *FIELDS)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def code(self, name: str) -> int:
        """Code of a command name, or -1 if the name does not occur in this log's table."""
        try:
            return self.command_names.index(name)
        except ValueError:
            return -1

    def name_at(self, index: int) -> str:
        return self.command_names[int(self.cmd[index])]

    def counts(self) -> dict[str, int]:
        """Number of commands of each name present in the log."""
        found = np.bincount(self.cmd, minlength=len(self.command_names))
        return {n: int(c) for n, c in zip(self.command_names, found, strict=True) if c}

    def take(self, index: np.ndarray | slice) -> CommandLog:
        """A new log with the selected rows (numpy index, mask or slice)."""
        cols = {c: getattr(self, c)[index] for c in ("cycle", "cmd", *FIELDS)}
        return CommandLog(**cols, command_names=self.command_names, source=self.source)

    def describe(self, index: int) -> str:
        """One command as text, e.g. 'RD at cycle 23 (ch 0, rank 0, bg 0, bank 0, row 0, col 0)'."""
        parts = [
            f"{label} {int(getattr(self, col)[index])}"
            for label, col in zip(("ch", "rank", "bg", "bank", "row", "col"), FIELDS, strict=True)
            if getattr(self, col)[index] >= 0
        ]
        return f"{self.name_at(index)} at cycle {int(self.cycle[index])} ({', '.join(parts)})"

    @classmethod
    def from_records(
        cls, records: Iterable[Sequence[object]], command_names: Sequence[str] = COMMAND_NAMES
    ) -> CommandLog:
        """Build from (cycle, name, channel, rank, bankgroup, bank, row, column) tuples."""
        names = list(command_names)
        rows = []
        for rec in records:
            name = str(rec[1])
            if name not in names:
                names.append(name)
            rows.append((int(rec[0]), names.index(name), *(int(v) for v in rec[2:8])))
        table = np.array(rows, dtype=np.int64).reshape(-1, 8)
        return cls(*(table[:, i] for i in range(8)), command_names=tuple(names))

    @classmethod
    def read_text(cls, path: str | os.PathLike[str]) -> CommandLog:
        """Read a Ramulator2 TraceRecorder file (plain or gzip). Bad lines raise InputError
        naming the file and the 1-based line number."""
        path = Path(path)
        source = str(path)
        try:
            raw = path.read_bytes()
        except OSError as err:
            raise InputError(f"cannot read command log ({err.strerror})", source=source) from None
        if raw[:2] == b"\x1f\x8b":
            try:
                raw = gzip.decompress(raw)
            except (EOFError, gzip.BadGzipFile, zlib.error) as err:
                raise InputError(f"truncated or corrupt gzip data ({err})", source=source) from None
        text = raw.decode("latin-1")
        rows = _LINE.findall(text)
        n_lines = sum(1 for ln in text.splitlines() if ln.strip())
        if len(rows) != n_lines:
            _raise_first_bad_line(text, source)
        names = list(COMMAND_NAMES)
        if rows:
            table = np.array(rows)
            uniq, inverse = np.unique(table[:, 1], return_inverse=True)
            for name in uniq:
                if name not in names:
                    names.append(str(name))
            if len(names) > 255:
                raise InputError("more than 255 distinct command names", source=source)
            remap = np.array([names.index(str(u)) for u in uniq], dtype=np.uint8)
            cmd = remap[inverse.ravel()]
            try:
                nums = table[:, [0, 2, 3, 4, 5, 6, 7]].astype(np.int64)
            except OverflowError:  # pragma: no cover - numbers beyond int64
                nums = np.full((len(rows), 7), 2**62, dtype=np.int64)
            too_big = (np.abs(nums[:, 1:]) > _INT32_MAX).any(axis=1) | (nums[:, 0] > 2**62)
            if too_big.any():
                line = _line_number_of_record(text, int(np.argmax(too_big)))
                raise InputError(
                    f"number out of range (fields must fit in 32 bits); {_EXPECTED}",
                    source=f"{source}:{line}",
                )
        else:
            cmd = np.zeros(0, np.uint8)
            nums = np.zeros((0, 7), np.int64)
        return cls(
            nums[:, 0], cmd, *(nums[:, i] for i in range(1, 7)),
            command_names=tuple(names), source=source,
        )  # fmt: skip

    def write_text(self, path: str | os.PathLike[str]) -> None:
        """Write the TraceRecorder text form (gzip-compressed if the path ends in .gz)."""
        names = np.array(self.command_names, dtype=object)[self.cmd]
        cols = [self.cycle.astype(str), names] + [getattr(self, c).astype(str) for c in FIELDS]
        lines = [", ".join(rec) for rec in zip(*cols, strict=True)]
        data = ("\n".join(lines) + ("\n" if lines else "")).encode()
        path = Path(path)
        if path.suffix == ".gz":
            with gzip.open(path, "wb") as f:
                f.write(data)
        else:
            path.write_bytes(data)


def _raise_first_bad_line(text: str, source: str) -> None:
    single = re.compile(_LINE.pattern.removeprefix("^").removesuffix("$") + "$")
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not single.match(line):
            shown = line.strip()[:120]
            raise InputError(f"{_EXPECTED}, got '{shown}'", source=f"{source}:{number}")
    raise InputError(_EXPECTED, source=source)  # pragma: no cover - defensive


def _line_number_of_record(text: str, record: int) -> int:
    seen = -1
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            seen += 1
            if seen == record:
                return number
    return 0  # pragma: no cover
