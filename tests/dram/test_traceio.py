"""Trace input: hermes_hw.dram.traces (C parser in ramulator_bridge._traceio)."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hermes_hw.dram.traces import open_trace, write_loadstore, write_npz
from hermes_hw.errors import InputError

REF = Path("/work/shared/reference/ramulator2")
needs_ref = pytest.mark.skipif(not REF.is_dir(), reason="Ramulator2 reference data not present")


def _write(tmp_path: Path, text: str | bytes, name: str = "t.trace") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def _read(path: Path, **kw):
    chunk = open_trace(path, **kw).read_all()
    return chunk


def test_loadstore_hex_and_decimal(tmp_path):
    path = _write(tmp_path, "LD 0x1f40\nST 123\nLD 0X10\nST 0xFFFFFFFFFFFFFFFF\n")
    chunk = _read(path)
    assert chunk.addr.dtype == np.uint64 and chunk.is_write.dtype == np.bool_
    assert chunk.addr.tolist() == [0x1F40, 123, 16, 2**64 - 1]
    assert chunk.is_write.tolist() == [False, True, False, True]


def test_blank_lines_comments_crlf_and_missing_final_newline(tmp_path):
    path = _write(tmp_path, "# header\r\n\r\n  LD 0x40  \r\n\tST\t64\r\nLD 7")
    reader = open_trace(path)
    chunk = reader.read_all()
    assert chunk.addr.tolist() == [64, 64, 7]
    assert chunk.is_write.tolist() == [False, True, False]
    assert reader.format == "loadstore" and reader.requests == 3


def test_readwrite_byte_addresses_and_address_vectors(tmp_path):
    flat = _read(_write(tmp_path, "R 0x80\nW 5\n"))
    assert flat.addr.tolist() == [128, 5] and flat.is_write.tolist() == [False, True]
    reader = open_trace(_write(tmp_path, "R 0,0,1,2,100,5\nW 0,1,3,0,7,127\n", "v.trace"))
    vec = reader.read_all()
    assert vec.addr is None and reader.vector_levels == 6
    assert vec.addr_vec.tolist() == [[0, 0, 1, 2, 100, 5], [0, 1, 3, 0, 7, 127]]
    assert vec.is_write.tolist() == [False, True]


@pytest.mark.parametrize(
    ("text", "line", "got"),
    [
        ("LD 0x10\nLD 0xzz\n", 2, "LD 0xzz"),  # bad hex digit
        ("LD 0x10\n\nRD 5\n", 3, "RD 5"),  # wrong mnemonic (line numbers count blank lines)
        ("LD 0x\n", 1, "LD 0x"),  # prefix without digits
        ("LD -5\n", 1, "LD -5"),  # negative
        ("LD\n", 1, "LD"),  # missing address
        ("LD 0x10 5\n", 1, "LD 0x10 5"),  # extra token
        ("LD0x10\n", 1, "LD0x10"),  # no separator
        ("LD 12abc\n", 1, "LD 12abc"),  # trailing junk after decimal
        ("LD 0x10\nR 0x20\n", 2, "R 0x20"),  # format switch mid-file
    ],
)
def test_bad_line_reports_line_number_and_text(tmp_path, text, line, got):
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as err:
        _read(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:{line}: expected 'LD|ST <address>'")
    assert msg.endswith(f"got '{got}'")


def test_unknown_first_mnemonic_lists_both_formats(tmp_path):
    path = _write(tmp_path, "\nLOAD 0x10\n")
    with pytest.raises(InputError, match=r":2: expected 'LD\|ST <address>' or 'R\|W <address>'"):
        _read(path)


def test_address_overflowing_64_bits(tmp_path):
    path = _write(tmp_path, "LD 18446744073709551616\n")  # 2**64
    with pytest.raises(InputError, match=r":1: number does not fit in 64 bits"):
        _read(path)
    assert _read(_write(tmp_path, "LD 18446744073709551615\n", "ok")).addr[0] == 2**64 - 1


def test_capacity_check_names_line_and_address(tmp_path):
    cap = 8 << 30  # DDR4_8Gb_x8, one rank (README section 6)
    path = _write(tmp_path, f"LD 0x0\nLD {cap - 64:#x}\nST {cap:#x}\n")
    with pytest.raises(InputError) as err:
        _read(path, capacity_bytes=cap)
    assert str(err.value).startswith(f"{path}:3: address 0x200000000 is beyond the memory capacity")
    assert _read(path).addr.size == 3  # no check without a capacity


def test_mixed_vector_and_flat_is_an_error(tmp_path):
    path = _write(tmp_path, "R 0,0,1,2,100,5\nW 0,0,1\n")
    with pytest.raises(InputError, match=r":2: the trace's first request uses 6-level"):
        _read(path)


def test_line_straddling_blocks_is_parsed_whole(tmp_path):
    rng = np.random.default_rng(7)
    addr = rng.integers(0, 2**40, size=20_000).astype(np.uint64)
    is_write = rng.random(20_000) < 0.3
    path = tmp_path / "t.trace"
    write_loadstore(path, addr, is_write)
    reader = open_trace(path, block_bytes=4096)  # ~300 blocks; lines cut at block edges
    chunks = list(reader)
    assert len(chunks) > 50
    assert np.array_equal(np.concatenate([c.addr for c in chunks]), addr)
    assert np.array_equal(np.concatenate([c.is_write for c in chunks]), is_write)


def test_error_line_number_after_many_blocks(tmp_path):
    body = "".join(f"LD {64 * i:#x}\n" for i in range(5000)) + "LD 0xg\n"
    with pytest.raises(InputError, match=r":5001: expected"):
        _read(_write(tmp_path, body), block_bytes=4096)


def test_gzip_round_trip_and_detection_by_content(tmp_path):
    addr = np.arange(1000, dtype=np.uint64) * 64
    is_write = np.arange(1000) % 3 == 0
    gz = tmp_path / "t.trace.gz"
    write_loadstore(gz, addr, is_write)
    assert gzip.decompress(gz.read_bytes()).startswith(b"ST 0x0\nLD 0x40\nLD 0x80\nST 0xc0\n")
    renamed = tmp_path / "no_suffix"
    renamed.write_bytes(gz.read_bytes())
    chunk = _read(renamed)
    assert np.array_equal(chunk.addr, addr) and np.array_equal(chunk.is_write, is_write)


def test_truncated_gzip_names_the_file(tmp_path):
    data = gzip.compress(b"".join(b"LD 0x%x\n" % (64 * i) for i in range(50_000)))
    path = _write(tmp_path, data[: len(data) // 2], "cut.trace.gz")
    with pytest.raises(InputError, match=r"cut\.trace\.gz: truncated or corrupt gzip data"):
        _read(path)


def test_corrupt_gzip_names_the_file(tmp_path):
    data = bytearray(gzip.compress(b"LD 0x0\n" * 1000))
    data[20:30] = b"\xff" * 10
    with pytest.raises(InputError, match=r"bad\.gz: truncated or corrupt gzip data"):
        _read(_write(tmp_path, bytes(data), "bad.gz"))


def test_binary_and_empty_and_missing_files(tmp_path):
    with pytest.raises(InputError, match=r":1: NUL byte in a text trace"):
        _read(_write(tmp_path, b"LD \x00\x01\x02\n"))
    with pytest.raises(InputError, match=r"contains no requests"):
        _read(_write(tmp_path, "# nothing\n\n", "empty"))
    with pytest.raises(InputError, match=r"nope\.trace: trace file does not exist"):
        open_trace(tmp_path / "nope.trace")
    with pytest.raises(InputError, match=r"unknown trace format 'loadstor'; did you mean"):
        open_trace(_write(tmp_path, "LD 0\n"), fmt="loadstor")


def test_npz_round_trip_streams_in_chunks(tmp_path, monkeypatch):
    from hermes_hw.dram.traces import npz

    monkeypatch.setattr(npz, "NPZ_CHUNK_REQUESTS", 1000)
    addr = np.random.default_rng(3).integers(0, 2**33, size=4500).astype(np.uint64)
    is_write = addr % 7 == 0
    path = tmp_path / "t.npz"
    write_npz(path, addr, is_write)
    chunks = list(open_trace(path))
    assert [len(c) for c in chunks] == [1000, 1000, 1000, 1000, 500]
    assert np.array_equal(np.concatenate([c.addr for c in chunks]), addr)
    assert np.array_equal(np.concatenate([c.is_write for c in chunks]), is_write)
    bad = int(np.argmax(addr >= 2**32))
    with pytest.raises(InputError, match=rf"t\.npz: request {bad + 1}: address .* beyond"):
        list(open_trace(path, capacity_bytes=2**32))


def test_npz_missing_member_and_object_array(tmp_path):
    np.savez(tmp_path / "a.npz", addr=np.zeros(3, np.uint64))
    with pytest.raises(InputError, match=r"missing array\(s\) is_write"):
        list(open_trace(tmp_path / "a.npz"))
    np.savez(tmp_path / "b.npz", addr=np.array([1, "x"], dtype=object), is_write=np.zeros(2))
    with pytest.raises(InputError, match=r"'addr' must be a 1-D numeric array"):
        list(open_trace(tmp_path / "b.npz"))


@needs_ref
def test_reference_traces_match_manifest_counts_and_sha256(tmp_path):
    manifest = json.loads((REF / "manifest.json").read_text())
    checked = 0
    for info in manifest["traces"]:
        chunk = open_trace(REF / info["file"]).read_all()
        assert len(chunk) == info["lines"]
        assert int(chunk.is_write.sum()) == info["stores"]
        out = tmp_path / "copy.trace"
        write_loadstore(out, chunk.addr, chunk.is_write)  # the generator's exact text form
        assert hashlib.sha256(out.read_bytes()).hexdigest() == info["sha256_decompressed"]
        checked += 1
    assert checked == 8


def test_cli_style_error_is_one_line(tmp_path):
    path = _write(tmp_path, "LD 0x10\nLD zz\n")
    code = (
        "import sys\n"
        "from hermes_hw.errors import InputError\n"
        "from hermes_hw.dram.traces import open_trace\n"
        f"try:\n    list(open_trace({str(path)!r}))\n"
        "except InputError as e:\n    print(e, file=sys.stderr); sys.exit(2)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and ":2: expected" in proc.stderr


def _reference_parse(text: str) -> tuple[list[int], list[bool]]:
    """Independent parse of a LoadStoreTrace text (the trace format spec, in Python)."""
    addrs, writes = [], []
    for line in text.split("\n"):
        body = line.rstrip("\r").strip(" \t")
        if not body or body.startswith("#"):
            continue
        op, tok = body.split(None, 1)
        addrs.append(int(tok[2:], 16) if tok[:2].lower() == "0x" else int(tok, 10))
        writes.append(op == "ST")
    return addrs, writes


_LINE_VARIANTS = st.one_of(
    # the parser's fast path: "LD 0x<1-16 hex digits>\n"
    st.tuples(st.sampled_from(["LD", "ST"]), st.integers(0, 2**64 - 1), st.booleans()).map(
        lambda t: f"{t[0]} {t[1]:#x}" if not t[2] else f"{t[0]} 0x{t[1]:X}"),
    st.tuples(st.sampled_from(["LD", "ST"]), st.integers(0, 10**12)).map(
        lambda t: f"{t[0]} {t[1]}"),  # decimal
    st.tuples(st.sampled_from(["LD", "ST"]), st.integers(0, 2**40)).map(
        lambda t: f" {t[0]}\t{t[1]:#x}  \r"),  # blanks and CR: the general path
    st.tuples(st.sampled_from(["LD", "ST"]), st.integers(0, 2**20)).map(
        lambda t: f"{t[0]} 0x{t[1]:020x}"),  # leading zeros: more than 16 digits
    st.sampled_from(["", "# comment", "  "]),
)


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(_LINE_VARIANTS, min_size=1, max_size=60), final_newline=st.booleans(),
       pad=st.integers(0, 4100), cap_bits=st.sampled_from([None, 36, 64]))
def test_parser_matches_reference_parse(tmp_path_factory, lines, final_newline, pad, cap_bits):
    """Every line shape (fast path or not), cut anywhere by the 4096-byte block edge (a
    leading comment of `pad` bytes moves it), parses as the format spec says, and the first
    address beyond the capacity is reported at its own line."""
    block = 4096
    lines = (["#" * pad] if pad else []) + lines
    text = "\n".join(lines) + ("\n" if final_newline else "")
    if not _reference_parse(text)[0]:
        return  # no request: nothing to compare
    path = _write(tmp_path_factory.mktemp("p"), text)
    capacity = None if cap_bits is None else (2**cap_bits if cap_bits < 64 else 2**64 - 1)
    addrs, writes = _reference_parse(text)
    beyond = [i for i, a in enumerate(addrs) if capacity is not None and a >= capacity]
    if beyond:
        record_lines = [n + 1 for n, ln in enumerate(text.split("\n"))
                        if ln.rstrip("\r").strip(" \t") and not ln.strip().startswith("#")]
        with pytest.raises(InputError, match=rf":{record_lines[beyond[0]]}: address "):
            _read(path, capacity_bytes=capacity, block_bytes=block)
        return
    chunk = _read(path, capacity_bytes=capacity, block_bytes=block)
    assert chunk.addr.tolist() == addrs
    assert chunk.is_write.tolist() == writes
