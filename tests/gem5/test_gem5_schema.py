"""The runtime-built messages agree with the documented schema file and with gem5's facts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import hermes_hw.gem5
from hermes_hw.errors import InputError
from hermes_hw.gem5.commands import LAYOUTS, command_table

PROTO = Path(hermes_hw.gem5.__file__).with_name("packet.proto")


def _proto_fields() -> dict[str, set[tuple[str, int, str, str]]]:
    """{message: {(label, type, name, number)}} from packet.proto, nested names dotted."""
    out: dict[str, set[tuple[str, int, str, str]]] = {}
    stack: list[str] = []
    for raw in PROTO.read_text().splitlines():
        line = raw.split("//")[0].strip()
        if m := re.match(r"message (\w+) \{", line):
            stack.append(m.group(1))
            out[".".join(stack)] = set()
        elif m := re.match(r"(required|optional|repeated) (\w+) (\w+) = (\d+)", line):
            out[".".join(stack)].add((m.group(1), m.group(2), m.group(3), int(m.group(4))))
        elif line == "}":
            stack.pop()
    return out


def test_runtime_descriptor_matches_packet_proto():
    pytest.importorskip("google.protobuf", reason="needs the optional 'protobuf' package")
    from google.protobuf import descriptor_pb2

    from hermes_hw.gem5.schema import message_classes

    header_cls, packet_cls = message_classes()
    fdp = descriptor_pb2.FileDescriptorProto()
    header_cls.DESCRIPTOR.file.CopyToProto(fdp)
    field_proto = descriptor_pb2.FieldDescriptorProto

    def fields(msg):
        return {
            (
                field_proto.Label.Name(f.label).removeprefix("LABEL_").lower(),
                f.type_name.rpartition(".")[2]
                or field_proto.Type.Name(f.type).removeprefix("TYPE_").lower(),
                f.name,
                f.number,
            )
            for f in msg.field
        }

    messages = {m.name: m for m in fdp.message_type}
    proto = _proto_fields()
    assert set(proto) == {"PacketHeader", "PacketHeader.IdStringEntry", "Packet"}
    assert fields(messages["PacketHeader"]) == proto["PacketHeader"]
    entry = messages["PacketHeader"].nested_type[0]
    assert entry.name == "IdStringEntry"
    assert fields(entry) == proto["PacketHeader.IdStringEntry"]
    assert fields(messages["Packet"]) == proto["Packet"]
    assert header_cls.DESCRIPTOR.full_name == "ProtoMessage.PacketHeader"
    assert header_cls().ver == 0  # [default = 0]


def test_command_numbers_match_gem5_packet_hh():
    # Numbers from gem5's MemCmd enum (src/mem/packet.hh) at v24.0 and at v20.0.
    new = command_table("v24.0")
    for name, number in {
        "ReadReq": 1,
        "WriteReq": 4,
        "WritebackDirty": 7,
        "CleanEvict": 10,
        "WriteLineReq": 16,
        "ReadExReq": 22,
        "ReadSharedReq": 25,
        "SwapReq": 34,
        "MemFenceReq": 38,  # SwapResp + 3
        "TlbiExtSync": 59,
    }.items():
        assert new.name(number) == name
    old = command_table("v20.0")
    for name, number in {"ReadReq": 1, "WriteReq": 4, "WritebackDirty": 6, "ReadExReq": 21}.items():
        assert old.name(number) == name
    assert command_table("v21.2").name(30) == "SwapReq"  # before the LockedRMW commands
    assert [len(v) for v in LAYOUTS.values()] == [47, 53, 58, 60]


def test_command_kinds():
    table = command_table()
    kinds = {table.name(c): table.kind(c) for c in range(len(table.names)) if table.name(c)}
    assert kinds["ReadReq"] == kinds["ReadSharedReq"] == kinds["HardPFReq"] == "read"
    assert kinds["WriteReq"] == kinds["WritebackClean"] == kinds["SwapReq"] == "write"
    assert kinds["CleanEvict"] == kinds["UpgradeReq"] == "skip"
    assert kinds["ReadResp"] is None and kinds["BadAddressError"] is None
    assert table.kind(36) is None and table.kind(1000) is None  # unused slot, out of range


def test_version_names():
    assert command_table("gem5-v23.1.0.0").layout == "v22.1"
    assert command_table("21").layout == "v20.1"
    with pytest.raises(InputError, match="unsupported gem5 version"):
        command_table("latest-ish")


def test_without_protobuf_the_cli_says_how_to_install_it(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "t.gem5"
    path.write_bytes(b"gem5")
    code = (
        "import sys; sys.modules['google'] = None; sys.modules['google.protobuf'] = None\n"
        "from hermes_hw.cli.main import main\n"
        f"sys.exit(main(['gem5', 'info', {str(path)!r}]))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "hermes: error: reading or writing gem5 traces needs the optional 'protobuf' package: "
        "pip install 'hermes-hw[gem5]' (or pip install protobuf)"
    ]
