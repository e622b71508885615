"""Packed material maps that game engines import beside an FBX (numpy only).

Blender's FBX exporter turns a roughness texture into a specular-shininess slot that Unity and Unreal ignore, so
the roughness travels beside the FBX in the layouts the engines' lit materials read:

- ``<name>_ORM.png`` (Unreal): R ambient occlusion (255: none baked), G roughness, B metallic (0: skin).
  Assign it to the material's occlusion/roughness/metallic inputs, sRGB off.
- ``<name>_MaskMap.png`` (Unity HDRP Lit "Mask Map"): R metallic (0), G ambient occlusion (255), B detail mask
  (0), A smoothness = 255 - roughness. Import with sRGB off.
- ``<name>_NormalDX.png`` (Unreal): the tangent-space normal map with its green channel inverted. Our maps (and
  the one embedded in the FBX) are OpenGL-style, green up the texture (+v), as Blender, glTF and Unity read them;
  Unreal reads green down (DirectX-style), which would turn every bump's slope along v inside out.
"""

from __future__ import annotations

import numpy as np


def unreal_orm(roughness: np.ndarray) -> np.ndarray:
    """(H, W) uint8 roughness -> (H, W, 3) uint8 occlusion, roughness, metallic."""
    r = np.asarray(roughness, dtype=np.uint8)
    return np.stack([np.full_like(r, 255), r, np.zeros_like(r)], axis=-1)


def unity_mask_map(roughness: np.ndarray) -> np.ndarray:
    """(H, W) uint8 roughness -> (H, W, 4) uint8 metallic, occlusion, detail mask, smoothness."""
    r = np.asarray(roughness, dtype=np.uint8)
    return np.stack([np.zeros_like(r), np.full_like(r, 255), np.zeros_like(r), 255 - r], axis=-1)


def directx_normal(normal: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 OpenGL-style tangent-space normal map -> the same normals DirectX-style (G = 255 - G)."""
    n = np.array(normal, dtype=np.uint8, copy=True)
    n[..., 1] = 255 - n[..., 1]
    return n


# export format -> (file label, the AvatarData map it is made from, packing) of each map written beside it
ENGINE_MAPS = {"fbx-unreal": (("ORM", "roughness_map", unreal_orm), ("NormalDX", "normal_map", directx_normal)),
               "fbx-unity": (("MaskMap", "roughness_map", unity_mask_map),)}
