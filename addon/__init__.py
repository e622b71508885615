"""Avatar Pipeline: a Blender extension (4.2 to 5.0) that also loads as a legacy add-on.

Register and unregister only: nothing else runs at import time. The sidebar panels (3D View > Sidebar > Avatar)
and the ``avatar.*`` operators call the same functions as ``pipeline/run.py`` (``pipeline.jobs.job``,
``pipeline.blender.build``, ``pipeline.blender.export``); no generation logic lives in the UI.
"""

from __future__ import annotations

bl_info = {  # read only when loaded as a legacy add-on; extensions use blender_manifest.toml
    "name": "Avatar Pipeline",
    "author": "Avatar Pipeline developers",
    "version": (0, 1, 0),
    "blender": (4, 2, 0),
    "location": "3D View > Sidebar > Avatar",
    "description": "Rigged, metric human avatars from real units (cm, kg, years)",
    "category": "Add Mesh",
}

import bpy  # noqa: E402

from . import operators, panels, preferences, properties  # noqa: E402

_CLASSES = (*properties.CLASSES, preferences.AVATAR_AP_preferences, *operators.CLASSES, *panels.CLASSES)


def register() -> None:
    """Register the classes and the scene settings; a second call changes nothing."""
    for cls in _CLASSES:
        if not getattr(cls, "is_registered", False):
            bpy.utils.register_class(cls)
    if not hasattr(bpy.types.Scene, "avatar_settings"):
        bpy.types.Scene.avatar_settings = bpy.props.PointerProperty(type=properties.AvatarSettings)


def unregister() -> None:
    """End the decode workers and unregister; a second call changes nothing."""
    from . import runtime

    runtime.stop_workers()
    if hasattr(bpy.types.Scene, "avatar_settings"):
        del bpy.types.Scene.avatar_settings
    for cls in reversed(_CLASSES):
        if getattr(cls, "is_registered", False):
            bpy.utils.unregister_class(cls)
