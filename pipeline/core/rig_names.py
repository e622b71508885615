"""Rig names and bone-name tables for export: ``--names internal|unreal`` for the game_engine rig (see INTERFACES.md).

``internal`` keeps the MPFB2 rig's own names; ``unreal`` renames to the Unreal mannequin's. MPFB2's game_engine rig
already uses Unreal's names except for the root (``Root`` -> ``root``); the mixamo and makehuman rigs keep their
own names (``mixamorig:*`` and MakeHuman's).
"""

from __future__ import annotations

RIG_NAMES: tuple[str, ...] = ("game_engine", "mixamo", "makehuman")
# (label, description) for user interfaces
RIG_LABELS = {"game_engine": ("Game engine (61 bones)", "Unreal/Unity-style rig with twist bones"),
              "mixamo": ("Mixamo (52 bones)", "mixamorig: names, Mixamo's hierarchy"),
              "makehuman": ("MakeHuman (163 bones)", "the full MakeHuman rig, for film")}
NAME_SETS = ("internal", "unreal")
NAME_SET_LABELS = {"internal": ("Internal", ""), "unreal": ("Unreal", "Unreal mannequin names (game_engine rig)")}
UNREAL_FROM_GAME_ENGINE = {"Root": "root"}


def export_names(rig: str, bone_names: tuple[str, ...], names: str = "internal") -> tuple[str, ...]:
    """Bone names for an export of ``rig`` with the chosen name set."""
    if names not in NAME_SETS:
        raise ValueError(f"--names {names!r}: allowed {', '.join(NAME_SETS)}")
    if names == "internal" or rig != "game_engine":
        return tuple(bone_names)
    return tuple(UNREAL_FROM_GAME_ENGINE.get(n, n) for n in bone_names)
