"""Add-on preferences: where torch runs, texture size, default rig.

Where torch runs: Blender's own Python has no torch, and installing torch into it is neither small nor wise.
So decoding (the only step that needs torch) runs
- in Blender's Python when ``torch`` is importable there (``Blender``), or
- in a worker process (``Worker``): ``python -m pipeline.jobs.decode_worker`` with the project's ``.venv`` Python
  (``make install`` creates it); the bodies come back as JSON and are assembled, textured and built here.
``Automatic`` picks Blender when torch imports and the worker otherwise. The worker's Python is the one set
here, else ``$AVATAR_WORKER_PYTHON``, else ``.venv/bin/python`` next to the ``pipeline`` package when Blender
loads it from a project checkout.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import bpy

from pipeline.core.rig_names import RIG_LABELS
from pipeline.core.skin_tone import TEXTURE_SIZES as ALBEDO_SIZES

TEXTURE_SIZES = tuple((str(n), str(n), "") for n in ALBEDO_SIZES)
RIGS = tuple((k, *v) for k, v in RIG_LABELS.items())
DEFAULTS = {"torch_mode": "AUTO", "worker_python": "", "texture_size": "1024", "default_rig": "game_engine"}


class AVATAR_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    torch_mode: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Decoder runs in",
        items=(("AUTO", "Automatic", "Blender's Python when torch imports there, otherwise the worker"),
               ("BLENDER", "Blender's Python", "needs torch importable inside Blender"),
               ("WORKER", "Worker process", "the project's Python (with torch) in a separate process")),
        default=DEFAULTS["torch_mode"])
    worker_python: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Worker Python", subtype="FILE_PATH", default="",
        description="Python with torch and this project installed (the project's .venv/bin/python)")
    texture_size: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Texture size", items=TEXTURE_SIZES, default=DEFAULTS["texture_size"])
    default_rig: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Default rig", items=RIGS, default=DEFAULTS["default_rig"])

    def draw(self, context: Any) -> None:
        col = self.layout.column()
        col.prop(self, "torch_mode")
        col.prop(self, "worker_python")
        col.prop(self, "texture_size")
        col.prop(self, "default_rig")


def get_preferences(context: Any) -> Any:
    """The add-on's preferences, or the defaults when it is registered without being enabled as an add-on."""
    entry = context.preferences.addons.get(__package__)
    return entry.preferences if entry is not None else SimpleNamespace(**DEFAULTS)
