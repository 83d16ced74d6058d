"""Message classes for gem5 packet traces, built at import time from a Python schema.

The schema below is the Python form of ``packet.proto`` (next to this module, the documented
schema). Building the descriptor here avoids a protoc/grpcio-tools step at install time; the
classes live in a private descriptor pool so they never clash with another copy of gem5's
schema loaded in the same process.

``protobuf`` is an optional dependency (``pip install 'hermes-hw[gem5]'``); without it,
:func:`message_classes` raises :class:`~hermes_hw.errors.InputError` with the install hint.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from hermes_hw.errors import InputError

PACKAGE = "ProtoMessage"

#: Messages (outer before nested): (name, ((field, number, label, type, default, nested
#: message type or None), ...)); label and type use the descriptor's enum names.
SCHEMA: tuple[tuple[str, tuple[tuple[str, int, str, str, str | None, str | None], ...]], ...] = (
    (
        "PacketHeader",
        (
            ("obj_id", 1, "LABEL_REQUIRED", "TYPE_STRING", None, None),
            ("ver", 2, "LABEL_OPTIONAL", "TYPE_UINT32", "0", None),
            ("tick_freq", 3, "LABEL_REQUIRED", "TYPE_UINT64", None, None),
            ("id_strings", 4, "LABEL_REPEATED", "TYPE_MESSAGE", None, "PacketHeader.IdStringEntry"),
        ),
    ),
    (
        "PacketHeader.IdStringEntry",
        (
            ("key", 1, "LABEL_OPTIONAL", "TYPE_UINT32", None, None),
            ("value", 2, "LABEL_OPTIONAL", "TYPE_STRING", None, None),
        ),
    ),
    (
        "Packet",
        (
            ("tick", 1, "LABEL_REQUIRED", "TYPE_UINT64", None, None),
            ("cmd", 2, "LABEL_REQUIRED", "TYPE_UINT32", None, None),
            ("addr", 3, "LABEL_REQUIRED", "TYPE_UINT64", None, None),
            ("size", 4, "LABEL_REQUIRED", "TYPE_UINT32", None, None),
            ("flags", 5, "LABEL_OPTIONAL", "TYPE_UINT32", None, None),
            ("pkt_id", 6, "LABEL_OPTIONAL", "TYPE_UINT64", None, None),
            ("pc", 7, "LABEL_OPTIONAL", "TYPE_UINT64", None, None),
        ),
    ),
)

INSTALL_HINT = (
    "reading or writing gem5 traces needs the optional 'protobuf' package: "
    "pip install 'hermes-hw[gem5]' (or pip install protobuf)"
)


def protobuf_available() -> bool:
    """True when the ``protobuf`` package can be imported."""
    try:
        import google.protobuf  # noqa: F401
    except ImportError:
        return False
    return True


def _file_descriptor_proto() -> Any:
    from google.protobuf import descriptor_pb2

    fdp = descriptor_pb2.FileDescriptorProto(
        name="hermes_hw/gem5/packet.proto", package=PACKAGE, syntax="proto2"
    )
    messages: dict[str, Any] = {}
    for full_name, fields in SCHEMA:
        outer, _, inner = full_name.rpartition(".")
        if outer:
            msg = messages[outer].nested_type.add(name=inner)
        else:
            msg = fdp.message_type.add(name=full_name)
        messages[full_name] = msg
        for name, number, label, ftype, default, type_name in fields:
            field = msg.field.add(
                name=name,
                number=number,
                label=descriptor_pb2.FieldDescriptorProto.Label.Value(label),
                type=descriptor_pb2.FieldDescriptorProto.Type.Value(ftype),
            )
            if default is not None:
                field.default_value = default
            if type_name is not None:
                field.type_name = f".{PACKAGE}.{type_name}"
    return fdp


@lru_cache(maxsize=1)
def message_classes() -> tuple[type, type]:
    """(PacketHeader, Packet) message classes; InputError if protobuf is not installed."""
    try:
        from google.protobuf import descriptor_pool, message_factory
    except ImportError as err:
        raise InputError(INSTALL_HINT) from err
    pool = descriptor_pool.DescriptorPool()
    pool.Add(_file_descriptor_proto())
    # GetMessageClass is protobuf >= 4.22; older releases build classes through a factory.
    get_class = getattr(message_factory, "GetMessageClass", None)
    if get_class is None:
        get_class = message_factory.MessageFactory(pool).GetPrototype
    header = get_class(pool.FindMessageTypeByName(f"{PACKAGE}.PacketHeader"))
    packet = get_class(pool.FindMessageTypeByName(f"{PACKAGE}.Packet"))
    return header, packet
