"""The export formats users can ask for: file suffix, influences per vertex, labels (the writers live elsewhere:
Blender's exporters in ``pipeline.blender.export``, the numpy GLB writer in ``pipeline.formats``)."""

from __future__ import annotations

import dataclasses

from pipeline.core.skinning import FILM_INFLUENCES, GAME_INFLUENCES


@dataclasses.dataclass(frozen=True)
class ExportTarget:
    """One export format. ``influences``: skin influences per vertex the target takes (the avatar is pruned to it)."""

    name: str
    suffix: str
    influences: int
    label: str
    description: str


EXPORT_TARGETS: dict[str, ExportTarget] = {t.name: t for t in (
    ExportTarget("glb", ".glb", GAME_INFLUENCES, "glTF binary (.glb)", "Y up, 4 influences, embedded texture"),
    ExportTarget("fbx-unity", ".unity.fbx", GAME_INFLUENCES, "FBX for Unity", "Y up, metres, 4 influences"),
    ExportTarget("fbx-unreal", ".unreal.fbx", GAME_INFLUENCES, "FBX for Unreal", "Z up, centimetres, 4 influences"),
    ExportTarget("usd", ".usdc", FILM_INFLUENCES, "USD (.usdc)", "UsdSkel, 8 influences, for film"),
)}
FORMATS: tuple[str, ...] = tuple(EXPORT_TARGETS)
