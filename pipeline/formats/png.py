"""PNG encoding with the standard library (zlib) and numpy, for places where Pillow is not installed
(Blender's own Python, which runs the add-on). Filter type 0 on every row; 8-bit grey, RGB or RGBA."""

from __future__ import annotations

import struct
import zlib

import numpy as np


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(image: np.ndarray, level: int = 1, srgb: bool = True) -> bytes:
    """(H, W) grey or (H, W, 3|4) uint8 image, row 0 at the top -> PNG file bytes. ``srgb``: mark the values as
    sRGB colour (an sRGB chunk); data maps (normals, roughness) leave it out."""
    img = np.ascontiguousarray(image)
    if img.ndim == 2:
        img = img[..., None]
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] not in (1, 3, 4):
        raise ValueError(f"encode_png needs (H, W) or (H, W, 3|4) uint8, got {np.shape(image)} {img.dtype}")
    h, w, c = img.shape
    rows = np.zeros((h, 1 + w * c), dtype=np.uint8)  # a leading 0 per row: filter "None"
    rows[:, 1:] = img.reshape(h, w * c)
    header = struct.pack(">IIBBBBB", w, h, 8, {1: 0, 3: 2, 4: 6}[c], 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + (_chunk(b"sRGB", b"\x00") if srgb else b"")
            + _chunk(b"IDAT", zlib.compress(rows.tobytes(), level)) + _chunk(b"IEND", b""))
