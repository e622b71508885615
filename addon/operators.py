"""``avatar.*`` operators. Each declares REGISTER and UNDO, reports problems through ``self.report`` (never a
silent cancel, never a traceback in the user's face; the traceback goes to the console), shows progress through
the window manager, and delegates the work to ``runtime`` (the project's shared functions)."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any, ClassVar

import bpy

from . import runtime
from .preferences import get_preferences
from .properties import EXPORT_ITEMS, PRESET_ITEMS, entry_to_settings, settings_to_entry


class _AvatarOperator:
    """Runs ``run(context)`` with errors reported to the user and progress shown in the window manager."""

    bl_options: ClassVar[set[str]] = {"REGISTER", "UNDO"}

    def execute(self, context: Any) -> set[str]:
        wm = context.window_manager
        wm.progress_begin(0, 100)
        try:
            return self.run(context, lambda f: wm.progress_update(int(100 * f)))
        except runtime.AddonError as exc:
            self.report({"ERROR"}, str(exc))
        except Exception as exc:  # unexpected: one readable line for the user, the traceback for the console
            traceback.print_exc()
            self.report({"ERROR"}, f"{type(exc).__name__}: {exc}")
        finally:
            wm.progress_end()
        return {"CANCELLED"}

    def run(self, context: Any, progress: Any) -> set[str]:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError


class _OnSelectedAvatar(_AvatarOperator):
    """An operator that works on the selected avatar (its armature or its mesh)."""

    @classmethod
    def poll(cls, context: Any) -> bool:
        return runtime.avatar_armature(context.active_object) is not None

    def selected(self, context: Any, action: str) -> Any:
        arm = runtime.avatar_armature(context.active_object)
        if arm is None:
            raise runtime.AddonError(f"select an avatar (its armature or its mesh) to {action}")
        return arm


def _report_warnings(op: Any, avatar: Any) -> None:
    for w in avatar.meta.get("warnings", []):
        op.report({"WARNING"}, w["message"])


class AVATAR_OT_generate(_AvatarOperator, bpy.types.Operator):
    """Make a new avatar from the panel's fields"""

    bl_idname = "avatar.generate"
    bl_label = "Generate"

    def run(self, context: Any, progress: Any) -> set[str]:
        from pipeline.blender.build import build_avatar

        s = context.scene.avatar_settings
        avatar = runtime.make_avatar_data(settings_to_entry(s), get_preferences(context), s.rig, s.bone_names,
                                          progress=progress)
        if bpy.data.objects.get(avatar.name) is not None or bpy.data.objects.get(f"{avatar.name}_rig"):
            raise runtime.AddonError(f"an object named {avatar.name!r} exists already: choose another name, "
                                     "or select that avatar and use Update")
        arm, _mesh = build_avatar(avatar, context.scene)
        progress(1.0)
        for obj in context.view_layer.objects:
            obj.select_set(False)
        arm.select_set(True)
        context.view_layer.objects.active = arm
        _report_warnings(self, avatar)
        m = avatar.meta["measurements"]
        self.report({"INFO"}, f"{avatar.name}: {m['stature_cm']:.1f} cm, {m['mass_kg']:.1f} kg")
        return {"FINISHED"}


class AVATAR_OT_update(_OnSelectedAvatar, bpy.types.Operator):
    """Regenerate the selected avatar in place from the panel's fields (object names and animation kept)"""

    bl_idname = "avatar.update"
    bl_label = "Update"

    def run(self, context: Any, progress: Any) -> set[str]:
        from pipeline.blender.build import PROP_PREFIX, update_avatar

        arm = self.selected(context, "update")
        s = context.scene.avatar_settings
        entry = {**settings_to_entry(s), "name": arm[PROP_PREFIX + "name"]}
        k = int(arm.get(PROP_PREFIX + "influences", 4))
        avatar = runtime.make_avatar_data(entry, get_preferences(context), s.rig, s.bone_names, k, progress)
        update_avatar(arm, avatar)
        progress(1.0)
        _report_warnings(self, avatar)
        return {"FINISHED"}


class AVATAR_OT_load_settings(_OnSelectedAvatar, bpy.types.Operator):
    """Copy the selected avatar's request into the panel's fields"""

    bl_idname = "avatar.load_settings"
    bl_label = "Load from selected"

    def run(self, context: Any, progress: Any) -> set[str]:
        request = runtime.avatar_meta(self.selected(context, "load its settings")).get("request")
        if not request:
            raise runtime.AddonError("the selected object carries no avatar request")
        entry_to_settings(request, context.scene.avatar_settings)
        return {"FINISHED"}


class AVATAR_OT_apply_preset(_AvatarOperator, bpy.types.Operator):
    """Fill the fields with a named person (child, teenager, adult woman, adult man, elder, athletic, heavy)"""

    bl_idname = "avatar.apply_preset"
    bl_label = "Apply preset"

    preset: bpy.props.EnumProperty(name="Preset", items=PRESET_ITEMS)  # type: ignore[valid-type]

    def run(self, context: Any, progress: Any) -> set[str]:
        from pipeline.core.presets import PERSON_PRESETS

        s = context.scene.avatar_settings
        entry_to_settings({**PERSON_PRESETS[self.preset], "name": self.preset, "seed": s.seed}, s)
        s.preset = self.preset
        return {"FINISHED"}


class AVATAR_OT_random_person(_AvatarOperator, bpy.types.Operator):
    """Fill the fields with a realistic person drawn from the population sampler (CDC/NHANES) with a seed"""

    bl_idname = "avatar.random_person"
    bl_label = "Random person"

    def run(self, context: Any, progress: Any) -> set[str]:
        from pipeline.core.population import sample_people

        s = context.scene.avatar_settings
        person = sample_people(1, int(s.random_seed))[0]
        entry_to_settings({**person, "name": f"person_{s.random_seed}"}, s)
        return {"FINISHED"}


class AVATAR_OT_export(_OnSelectedAvatar, bpy.types.Operator):
    """Export the selected avatar with a game/film preset"""

    bl_idname = "avatar.export"
    bl_label = "Export"

    preset: bpy.props.EnumProperty(name="Format", items=EXPORT_ITEMS)  # type: ignore[valid-type]
    filepath: bpy.props.StringProperty(name="File", subtype="FILE_PATH")  # type: ignore[valid-type]

    def invoke(self, context: Any, event: Any) -> set[str]:
        arm = runtime.avatar_armature(context.active_object)
        if not self.filepath and arm is not None:
            from pipeline.core.export_targets import EXPORT_TARGETS

            folder = Path(bpy.path.abspath("//")) if bpy.data.filepath else Path.home()
            self.filepath = str(folder / f"{arm.get('avatar_name', 'avatar')}{EXPORT_TARGETS[self.preset].suffix}")
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def run(self, context: Any, progress: Any) -> set[str]:
        arm = self.selected(context, "export")
        if not self.filepath:
            raise runtime.AddonError("choose a file to export to")
        path, warnings = runtime.export_avatar(arm, self.preset, Path(self.filepath))
        progress(1.0)
        for w in warnings:
            self.report({"WARNING"}, w)
        self.report({"INFO"}, f"exported {path}")
        return {"FINISHED"}


class AVATAR_OT_render_preview(_OnSelectedAvatar, bpy.types.Operator):
    """Render the selected avatar's front and side previews (the panel's engine, optionally enhanced) into the
    preview folder and load them as images"""

    bl_idname = "avatar.render_preview"
    bl_label = "Render previews"

    def run(self, context: Any, progress: Any) -> set[str]:
        arm = self.selected(context, "render its previews")
        s = context.scene.avatar_settings
        out = runtime.render_preview(arm, get_preferences(context), s.preview_engine, s.preview_enhance,
                                     Path(s.preview_folder or "//avatar_previews"), progress)
        progress(1.0)
        self.report({"INFO"}, f"previews written: {out['front']}, {out['side']} (in Image Editor: "
                              f"{arm.get('avatar_name', arm.name)}_preview)")
        return {"FINISHED"}


CLASSES = (AVATAR_OT_generate, AVATAR_OT_update, AVATAR_OT_load_settings, AVATAR_OT_apply_preset,
           AVATAR_OT_random_person, AVATAR_OT_export, AVATAR_OT_render_preview)
