"""Read back avatars written by this pipeline's GLB writer (numpy only): vertices in template order, measurements.

A GLB splits vertices at UV seams; its triangles keep the template's face order, so each template vertex is found
through the corners of the faces. Files of another topology are refused with a clear message.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from pipeline.core.anthropometry import measure
from pipeline.core.axes import Z_UP_TO_Y_UP
from pipeline.core.body_model import BodyModel, load_body_model

_DTYPES = {5121: np.uint8, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


def parse_glb(data: bytes, name: str = "GLB data") -> tuple[dict, bytes, int]:
    """The JSON chunk (parsed), the BIN chunk and the BIN chunk's byte offset in ``data``, a GLB file's bytes."""
    if len(data) < 20 or data[:4] != b"glTF":
        raise ValueError(f"{name}: not a GLB file")
    _, version, length = struct.unpack_from("<4sII", data)
    if version != 2 or length != len(data):
        raise ValueError(f"{name}: unsupported or truncated GLB (version {version}, {length} vs {len(data)} bytes)")
    n, kind = struct.unpack_from("<I4s", data, 12)
    if kind != b"JSON":
        raise ValueError(f"{name}: first GLB chunk is not JSON")
    gltf = json.loads(data[20:20 + n])
    off = 20 + n
    bin_chunk = b""
    if off + 8 <= len(data):
        m, kind = struct.unpack_from("<I4s", data, off)
        if kind == b"BIN\0":
            bin_chunk = data[off + 8:off + 8 + m]
    return gltf, bin_chunk, off + 8


def read_glb(path: Path) -> tuple[dict, bytes]:
    """The JSON chunk (parsed) and the BIN chunk of a GLB file."""
    gltf, blob, _ = parse_glb(Path(path).read_bytes(), str(path))
    return gltf, blob


def accessor_start(gltf: dict, index: int) -> int:
    """Byte offset of an accessor's first element in the BIN chunk."""
    acc = gltf["accessors"][index]
    return gltf["bufferViews"][acc["bufferView"]].get("byteOffset", 0) + acc.get("byteOffset", 0)


def accessor(gltf: dict, blob: bytes, index: int) -> np.ndarray:
    """A tightly packed accessor as a (count, width) array."""
    acc = gltf["accessors"][index]
    dtype = _DTYPES[acc["componentType"]]
    width = _WIDTH[acc["type"]]
    arr = np.frombuffer(blob, dtype=dtype, count=acc["count"] * width, offset=accessor_start(gltf, index))
    return arr.reshape(acc["count"], width)


def template_vertices(path: Path, body: BodyModel | None = None) -> np.ndarray:
    """(V, 3) rest vertices of an avatar GLB in template order, Blender axes, metres."""
    body = body or load_body_model()
    gltf, blob = read_glb(path)
    prim = gltf["meshes"][0]["primitives"][0]
    pos = accessor(gltf, blob, prim["attributes"]["POSITION"]).astype(np.float64)
    tris = accessor(gltf, blob, prim["indices"]).reshape(-1, 3)
    if tris.shape != body.faces.shape:
        raise ValueError(f"{path}: {tris.shape[0]} triangles; avatars of this pipeline have {body.faces.shape[0]}")
    z_up = pos @ Z_UP_TO_Y_UP[:3, :3]  # inverse of the rotation: its transpose
    verts = np.zeros((body.n_vertices, 3))
    verts[body.faces.reshape(-1)] = z_up[tris.reshape(-1)]
    return verts


def measure_glb(path: Path) -> dict:
    """Measurements (see pipeline.core.anthropometry) of an avatar GLB, rounded to 0.01."""
    body = load_body_model()
    m = measure(template_vertices(Path(path), body), body.faces, body.landmarks)
    return {k: round(float(v), 2) for k, v in m.items()}
