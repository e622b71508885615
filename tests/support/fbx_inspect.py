"""Read the GlobalSettings of a binary FBX file (axes, unit scale) without Blender: standard library only.

Binary FBX: a header, then node records ``(end offset, property count, property bytes, name, properties,
children)``; offsets are 32-bit before version 7500 and 64-bit from it. ``GlobalSettings/Properties70`` holds
``P`` records ``(name, type, label, flags, value...)`` such as ``UpAxis``, ``UpAxisSign``, ``FrontAxis``,
``CoordAxis``, ``UnitScaleFactor``.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

_MAGIC = b"Kaydara FBX Binary  \x00"
_SCALARS = {b"Y": "<h", b"C": "<?", b"I": "<i", b"F": "<f", b"D": "<d", b"L": "<q"}
_ARRAYS = {b"f": "f", b"d": "d", b"l": "q", b"i": "i", b"b": "?"}


def _read_property(data: bytes, pos: int) -> tuple[Any, int]:
    code = data[pos:pos + 1]
    pos += 1
    if code in _SCALARS:
        fmt = _SCALARS[code]
        return struct.unpack_from(fmt, data, pos)[0], pos + struct.calcsize(fmt)
    if code in _ARRAYS:
        count, encoding, length = struct.unpack_from("<III", data, pos)
        pos += 12
        raw = data[pos:pos + length]
        if encoding == 1:
            raw = zlib.decompress(raw)
        return list(struct.unpack(f"<{count}{_ARRAYS[code]}", raw)), pos + length
    if code in (b"S", b"R"):
        (length,) = struct.unpack_from("<I", data, pos)
        pos += 4
        value = data[pos:pos + length]
        return (value.decode("utf-8", "replace") if code == b"S" else value), pos + length
    raise ValueError(f"unknown FBX property type {code!r} at byte {pos - 1}")


def _read_node(data: bytes, pos: int, wide: bool) -> tuple[dict | None, int]:
    fmt = "<QQQ" if wide else "<III"
    end, nprops, _ = struct.unpack_from(fmt, data, pos)
    pos += struct.calcsize(fmt)
    name_len = data[pos]
    name = data[pos + 1:pos + 1 + name_len].decode("ascii", "replace")
    pos += 1 + name_len
    if end == 0:
        return None, pos
    props = []
    for _ in range(nprops):
        value, pos = _read_property(data, pos)
        props.append(value)
    children = []
    sentinel = 25 if wide else 13
    while pos < end - sentinel:
        child, pos = _read_node(data, pos, wide)
        if child is None:
            break
        children.append(child)
    return {"name": name, "props": props, "children": children}, end


def read_fbx_nodes(path: Path | str) -> list[dict]:
    """Top-level nodes of a binary FBX file as nested dicts (name, props, children)."""
    data = Path(path).read_bytes()
    if not data.startswith(_MAGIC):
        raise ValueError(f"{path}: not a binary FBX file")
    (version,) = struct.unpack_from("<I", data, 23)
    wide = version >= 7500
    pos, nodes = 27, []
    while pos < len(data):
        node, pos = _read_node(data, pos, wide)
        if node is None:
            break
        nodes.append(node)
    return nodes


def global_settings(path: Path | str) -> dict[str, Any]:
    """``GlobalSettings`` properties of an FBX file: name -> value (``UpAxis``, ``UnitScaleFactor`` ...)."""
    for node in read_fbx_nodes(path):
        if node["name"] == "GlobalSettings":
            for child in node["children"]:
                if child["name"] == "Properties70":
                    return {p["props"][0]: p["props"][4] if len(p["props"]) == 5 else p["props"][4:]
                            for p in child["children"] if p["name"] == "P" and len(p["props"]) >= 5}
    raise ValueError(f"{path}: no GlobalSettings")
