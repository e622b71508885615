"""Sidebar panels (3D View > Sidebar > Avatar): the person's fields with units, rig and actions, the achieved
measurements of the selected avatar, export."""

from __future__ import annotations

from typing import Any

import bpy

from pipeline.core.anthropometry import MEASUREMENT_LABELS
from pipeline.core.fields import FIELDS, MEASURED_FIELDS, measurement_unit

from . import runtime
from .properties import OPTIONAL_NUMBERS

# each measurement read back, with the spec field that requests it (None: measured, never requested)
_REQUESTED_AS = {FIELDS[k].measurement: k for k in MEASURED_FIELDS}
READ_BACK = tuple((_REQUESTED_AS.get(key), key, label) for key, label in MEASUREMENT_LABELS.items())


class _AvatarPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Avatar"


class AVATAR_PT_person(_AvatarPanel, bpy.types.Panel):
    bl_label = "Person"
    bl_idname = "AVATAR_PT_person"

    def draw(self, context: Any) -> None:
        s = context.scene.avatar_settings
        layout = self.layout
        row = layout.row(align=True)
        row.prop(s, "preset", text="")
        row.operator("avatar.apply_preset", text="Apply").preset = s.preset
        row = layout.row(align=True)
        row.prop(s, "random_seed")
        row.operator("avatar.random_person", icon="FILE_REFRESH")
        col = layout.column()
        col.prop(s, "name")
        col.prop(s, "sex")
        if s.sex == "mix":
            col.prop(s, "sex_value", slider=True)
        col.prop(s, "age_years")
        col.prop(s, "height_cm")
        col.prop(s, "weight_kg")
        box = layout.box()
        box.label(text="Optional (unticked: inferred)")
        for field in OPTIONAL_NUMBERS:
            row = box.row(align=True)
            row.prop(s, f"use_{field}", text="")
            sub = row.row(align=True)
            sub.enabled = getattr(s, f"use_{field}")
            sub.prop(s, field)
        col = layout.column()
        col.prop(s, "skin")
        if s.skin == "ita":
            col.prop(s, "skin_ita")
        elif s.skin == "fitzpatrick":
            col.prop(s, "fitzpatrick")
        col.prop(s, "hair_color")
        row = col.row(align=True)
        row.prop(s, "use_freckles", text="")
        sub = row.row(align=True)
        sub.enabled = s.use_freckles
        sub.prop(s, "freckles")
        col.prop(s, "style")
        if s.style == "comic":
            col.prop(s, "comic_style")
        col.prop(s, "seed")


class AVATAR_PT_build(_AvatarPanel, bpy.types.Panel):
    bl_label = "Rig and build"
    bl_idname = "AVATAR_PT_build"

    def draw(self, context: Any) -> None:
        s = context.scene.avatar_settings
        layout = self.layout
        layout.prop(s, "rig")
        row = layout.row()
        row.enabled = s.rig == "game_engine"
        row.prop(s, "bone_names")
        row = layout.row(align=True)
        row.operator("avatar.generate", icon="OUTLINER_OB_ARMATURE")
        row.operator("avatar.update", icon="FILE_REFRESH")
        layout.operator("avatar.load_settings", icon="IMPORT")


class AVATAR_PT_measurements(_AvatarPanel, bpy.types.Panel):
    bl_label = "Measurements (selected avatar)"
    bl_idname = "AVATAR_PT_measurements"

    def draw(self, context: Any) -> None:
        layout = self.layout
        arm = runtime.avatar_armature(context.active_object)
        if arm is None:
            layout.label(text="Select an avatar to read its measurements back")
            return
        meta = runtime.avatar_meta(arm)
        request, measured = meta.get("request", {}), meta.get("measurements", {})
        missed_fields = {w.get("field") for w in meta.get("warnings", [])}
        layout.label(text=f"{arm.get('avatar_name', arm.name)}: {arm.get('avatar_rig', '')} rig")
        col = layout.column(align=True)
        for spec_key, key, label in READ_BACK:
            if key not in measured:
                continue
            unit = measurement_unit(key)
            asked = request.get(spec_key) if spec_key else None
            text = f"{label}: {measured[key]:.1f} {unit}" + (f" (asked {asked:g})" if asked is not None else "")
            missed = spec_key is not None and spec_key in missed_fields
            col.label(text=text, icon="ERROR" if missed else "CHECKMARK" if asked is not None else "BLANK1")
        for w in meta.get("warnings", []):
            layout.label(text=w["message"][:120], icon="ERROR")


class AVATAR_PT_export(_AvatarPanel, bpy.types.Panel):
    bl_label = "Export"
    bl_idname = "AVATAR_PT_export"

    def draw(self, context: Any) -> None:
        s = context.scene.avatar_settings
        layout = self.layout
        layout.prop(s, "export_preset")
        layout.operator("avatar.export", icon="EXPORT").preset = s.export_preset


class AVATAR_PT_preview(_AvatarPanel, bpy.types.Panel):
    bl_label = "Preview render"
    bl_idname = "AVATAR_PT_preview"

    def draw(self, context: Any) -> None:
        s = context.scene.avatar_settings
        layout = self.layout
        layout.prop(s, "preview_engine")
        layout.prop(s, "preview_enhance")
        layout.prop(s, "preview_folder")
        layout.operator("avatar.render_preview", icon="RENDER_STILL")


CLASSES = (AVATAR_PT_person, AVATAR_PT_build, AVATAR_PT_measurements, AVATAR_PT_export, AVATAR_PT_preview)
