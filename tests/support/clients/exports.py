"""What the client tier exports: one avatar on every rig and bone-name set, in every format."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CLIENTS = ROOT / ".cache" / "clients"
VARIANTS = {  # label -> (rig, bone names)
    "game_engine": ("game_engine", "internal"),
    "game_engine_unreal": ("game_engine", "unreal"),
    "mixamo": ("mixamo", "internal"),
    "makehuman": ("makehuman", "internal"),
}
SPEC = '[[avatar]]\nname = "ana"\nsex = "female"\nage_years = 34\nheight_cm = 168\nweight_kg = 61\nseed = 7\n'
VERSIONS: dict[str, str] = {}  # loader -> version, filled by the tests, printed at the end of the run
