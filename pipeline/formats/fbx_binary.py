"""Binary FBX read and rewritten losslessly (standard library only), for what Blender's exporter leaves variable.

Layout (FBX 7.x binary): a 27-byte header, node records ``(end offset, property count, property bytes, name,
properties, children)`` with 32-bit offsets before version 7500 and 64-bit from it, a null record closing the
children of a node (and the top level), then a footer (an id, padding to 16 bytes, the version, zeros, a magic).
Properties are kept as their raw bytes, so everything not rewritten is written back bit for bit.

``make_reproducible`` rewrites the three things that made Blender's FBX files differ between identical runs: the
``CreationTimeStamp`` (the export's wall-clock time), the object ids (Blender hashes its keys with Python's
``hash()``, salted differently in every process) and the texture paths (the absolute path of the file being
written, which is a temporary name in a machine-specific folder). Textures are referenced by their final relative
file name, with its extension, in every place (Texture FileName and RelativeFilename, Video Filename,
RelativeFilename and Path); the image bytes stay embedded.

``normals_by_polygon_vertex`` turns Blender's ``ByVertice`` + ``IndexToDirect`` normal layer (what it writes for
smooth meshes) into the equivalent ``ByPolygonVertex`` one: the same normals, indexed per polygon corner. Both are
valid FBX, but Assimp 5.2 (the importer behind several engines) rejects the first ("length of input data
unexpected for ByVertice mapping") and drops the normals; every loader reads the second.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

MAGIC = b"Kaydara FBX Binary  \x00\x1a\x00"
_SCALAR_SIZE = {b"Y": 2, b"C": 1, b"I": 4, b"F": 4, b"D": 8, b"L": 8}
_ARRAYS = b"fdlib"
_FIXED_TIME = {b"Version": 1000, b"Year": 1970, b"Month": 1, b"Day": 1, b"Hour": 10, b"Minute": 0, b"Second": 0,
               b"Millisecond": 0}  # the time Blender already writes into CreationTime and the footer id
_TEXTURE_PATHS = {b"FileName", b"Filename", b"RelativeFilename"}


class FbxError(ValueError):
    """Not a binary FBX file this module can read."""


@dataclasses.dataclass
class Node:
    """One node record. props: (type code, raw value bytes) pairs; closed: a null record ends its children."""

    name: bytes
    props: list[tuple[bytes, bytes]]
    children: list[Node]
    closed: bool

    def value(self, i: int) -> object:
        """Property ``i`` decoded (scalars and strings; arrays come back as their raw bytes)."""
        code, raw = self.props[i]
        if code in (b"S", b"R"):
            data = raw[4:]
            return data.decode("utf-8", "replace") if code == b"S" else data
        if code in _SCALAR_SIZE:
            return struct.unpack("<" + {b"Y": "h", b"C": "?", b"I": "i", b"F": "f", b"D": "d", b"L": "q"}[code],
                                 raw)[0]
        return raw


def int32_array(raw: bytes) -> np.ndarray:
    """An ``i`` array property's values."""
    count, encoding, _ = struct.unpack_from("<3I", raw)
    data = zlib.decompress(raw[12:]) if encoding == 1 else raw[12:]
    return np.frombuffer(data, dtype="<i4", count=count)


def int32_array_prop(values: np.ndarray) -> tuple[bytes, bytes]:
    """An ``i`` array property, zlib-compressed as Blender writes them (level 1 keeps it fast)."""
    data = zlib.compress(np.ascontiguousarray(values, dtype="<i4").tobytes(), 1)
    return b"i", struct.pack("<3I", len(values), 1, len(data)) + data


def string_prop(text: str) -> tuple[bytes, bytes]:
    data = text.encode("utf-8")
    return b"S", struct.pack("<I", len(data)) + data


def _read_props(data: bytes, pos: int, count: int) -> tuple[list[tuple[bytes, bytes]], int]:
    props = []
    for _ in range(count):
        code = data[pos:pos + 1]
        pos += 1
        if code in _SCALAR_SIZE:
            size = _SCALAR_SIZE[code]
        elif code and code in _ARRAYS:
            size = 12 + struct.unpack_from("<I", data, pos + 8)[0]
        elif code in (b"S", b"R"):
            size = 4 + struct.unpack_from("<I", data, pos)[0]
        else:
            raise FbxError(f"unknown FBX property type {code!r} at byte {pos - 1}")
        props.append((code, data[pos:pos + size]))
        pos += size
    return props, pos


def _read_node(data: bytes, pos: int, wide: bool) -> tuple[Node | None, int]:
    head = "<3Q" if wide else "<3I"
    end, nprops, _ = struct.unpack_from(head, data, pos)
    pos += struct.calcsize(head)
    name_len = data[pos]
    name = data[pos + 1:pos + 1 + name_len]
    pos += 1 + name_len
    if end == 0:
        return None, pos
    props, pos = _read_props(data, pos, nprops)
    children: list[Node] = []
    closed = False
    while pos < end:
        child, pos = _read_node(data, pos, wide)
        if child is None:
            closed = True
            break
        children.append(child)
    if pos != end:
        raise FbxError(f"node {name!r} ends at byte {pos}, its record says {end}")
    return Node(name, props, children, closed), end


def parse(data: bytes) -> tuple[int, list[Node], bytes, bytes]:
    """(version, top-level nodes, footer id, footer tail: version, zeros and magic) of a binary FBX file."""
    if not data.startswith(MAGIC[:21]):
        raise FbxError("not a binary FBX file")
    (version,) = struct.unpack_from("<I", data, 23)
    wide = version >= 7500
    pos, nodes = 27, []
    while pos < len(data):
        node, pos = _read_node(data, pos, wide)
        if node is None:
            break
        nodes.append(node)
    return version, nodes, data[pos:pos + 16], data[-140:]


def _write_node(node: Node, out: bytearray, wide: bool) -> None:
    head = "<3Q" if wide else "<3I"
    sentinel = bytes(struct.calcsize(head) + 1)
    start = len(out)
    props = b"".join(code + raw for code, raw in node.props)
    out += bytes(struct.calcsize(head))  # the end offset is known once the children are written
    out += bytes((len(node.name),)) + node.name + props
    for child in node.children:
        _write_node(child, out, wide)
    if node.closed:
        out += sentinel
    struct.pack_into(head, out, start, len(out), len(node.props), len(props))


def serialize(version: int, nodes: list[Node], foot_id: bytes, tail: bytes) -> bytes:
    """Bytes of a binary FBX file (the inverse of ``parse``)."""
    wide = version >= 7500
    out = bytearray(MAGIC + struct.pack("<I", version))
    for node in nodes:
        _write_node(node, out, wide)
    out += bytes(struct.calcsize("<3Q" if wide else "<3I") + 1)
    out += foot_id + bytes(4)
    pad = ((len(out) + 15) & ~15) - len(out)
    out += bytes(pad or 16)
    return bytes(out + tail)


def _walk(nodes: list[Node], visit: Callable[[list[bytes], Node], None], path: list[bytes] | None = None) -> None:
    for node in nodes:
        here = [*(path or []), node.name]
        visit(here, node)
        _walk(node.children, visit, here)


def texture_file_name(media: str) -> str:
    """The final relative name of an embedded texture, from its media (image) name: with ``.png`` unless it has an
    image extension already."""
    name = Path(media.replace("\\", "/")).name
    return name if Path(name).suffix.lower() in (".png", ".jpg", ".jpeg") else f"{name}.png"


def _media_name(node: Node) -> str | None:
    """The image a Texture or Video node stands for: the Video's own name, or the Texture's Media child."""
    if node.name == b"Video" and len(node.props) > 1:
        return str(node.value(1)).split("\x00")[0]
    media = next((c for c in node.children if c.name == b"Media" and c.props), None)
    return str(media.value(0)).split("\x00")[0] if media else None


def _child(node: Node, name: bytes) -> Node | None:
    return next((c for c in node.children if c.name == name), None)


def normals_by_polygon_vertex(nodes: list[Node]) -> int:
    """Rewrite every ``ByVertice`` + ``IndexToDirect`` normal layer of the meshes as ``ByPolygonVertex`` (in place).
    Returns how many layers were rewritten."""
    done = 0
    objects = next((n for n in nodes if n.name == b"Objects"), None)
    for geom in objects.children if objects else []:
        corners = _child(geom, b"PolygonVertexIndex")
        if geom.name != b"Geometry" or corners is None:
            continue
        for layer in (c for c in geom.children if c.name == b"LayerElementNormal"):
            mapping, reference, index = (_child(layer, n) for n in (b"MappingInformationType",
                                                                    b"ReferenceInformationType", b"NormalsIndex"))
            if None in (mapping, reference, index) or mapping.value(0) != "ByVertice" \
                    or reference.value(0) != "IndexToDirect":
                continue
            pvi = int32_array(corners.props[0][1])
            vertex = np.where(pvi < 0, ~pvi, pvi)  # a negative index closes its polygon
            index.props[0] = int32_array_prop(int32_array(index.props[0][1])[vertex])
            mapping.props[0] = string_prop("ByPolygonVertex")
            done += 1
    return done


def renumber_ids(nodes: list[Node]) -> int:
    """Give the objects ids in the order they are written (1000001, 1000002, ...), everywhere they are referenced
    (in place). Blender derives them from Python's ``hash()`` of its keys, which changes with every process.
    Returns how many ids were renumbered."""
    ids: dict[int, int] = {}
    for top in nodes:
        if top.name in (b"Documents", b"Objects"):
            for child in top.children:
                if child.props and child.props[0][0] == b"L":
                    v = int(child.value(0))
                    if v and v not in ids:
                        ids[v] = 1_000_001 + len(ids)

    def visit(path: list[bytes], node: Node) -> None:
        for i, (code, raw) in enumerate(node.props):
            if code == b"L":
                v = struct.unpack("<q", raw)[0]
                if v in ids:
                    node.props[i] = (b"L", struct.pack("<q", ids[v]))

    _walk(nodes, visit)
    return len(ids)


def make_reproducible(data: bytes) -> bytes:
    """The same FBX with a fixed creation time stamp, object ids numbered in file order, textures referenced by
    their final relative names and normals indexed per polygon corner (see the module docstring)."""
    version, nodes, foot_id, tail = parse(data)
    renumber_ids(nodes)

    def visit(path: list[bytes], node: Node) -> None:
        if path[-2:-1] == [b"CreationTimeStamp"] and node.name in _FIXED_TIME and node.props:
            node.props[0] = (b"I", struct.pack("<i", _FIXED_TIME[node.name]))
        if path[-2:] not in ([b"Objects", b"Texture"], [b"Objects", b"Video"]):
            return
        media = _media_name(node)
        if not media:
            return
        final = string_prop(texture_file_name(media))
        for child in node.children:
            if child.name in _TEXTURE_PATHS and child.props:
                child.props[0] = final
            if child.name == b"Properties70":
                for p in child.children:
                    if p.name == b"P" and len(p.props) > 4 and p.value(0) == "Path":
                        p.props[4] = final

    _walk(nodes, visit)
    normals_by_polygon_vertex(nodes)
    return serialize(version, nodes, foot_id, tail)
