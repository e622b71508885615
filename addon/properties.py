"""The panel's fields (``scene.avatar_settings``): every key of the attribute spec, with its unit and range.

Hard ranges are those of ``pipeline.attributes.FIELDS`` (copied here because Blender needs them at class
definition, before any project module may be imported; a test checks they agree). The stature range depends on
the age, so it is checked when generating, with an error naming the field, the value and the allowed range.
Optional fields have a checkbox: unchecked means "not given" (the decoder infers them).
"""

from __future__ import annotations

from typing import Any

import bpy

from .preferences import RIGS

SEX_ITEMS = (("female", "Female", ""), ("male", "Male", ""), ("mix", "In between", "a number from 0 to 1"))
SKIN_ITEMS = (("default", "Default", "ITA 34.5 (intermediate)"), ("ita", "ITA angle", "degrees, -60 to 70"),
              ("fitzpatrick", "Fitzpatrick", "skin type 1 to 6"))
NAME_ITEMS = (("internal", "Internal", ""), ("unreal", "Unreal", "Unreal mannequin names (game_engine rig)"))
PRESET_ITEMS = tuple((k, k.replace("_", " ").capitalize(), "") for k in (
    "child", "teenager", "adult_woman", "adult_man", "elder", "athletic", "heavy"))
EXPORT_ITEMS = (("glb", "glTF binary (.glb)", "Y up, 4 influences, embedded texture"),
                ("fbx-unity", "FBX for Unity", "Y up, metres, 4 influences"),
                ("fbx-unreal", "FBX for Unreal", "Z up, centimetres, 4 influences"),
                ("usd", "USD (.usdc)", "UsdSkel, 8 influences, for film"))
# (field, label with unit, min, max) of the optional numeric keys, in the spec's order
OPTIONAL_NUMBERS = (("chest_cm", "Chest (cm)", 30.0, 200.0), ("waist_cm", "Waist (cm)", 25.0, 200.0),
                    ("hips_cm", "Hips (cm)", 30.0, 200.0), ("inseam_cm", "Inseam (cm)", 15.0, 110.0),
                    ("muscle", "Muscle (0-1)", 0.0, 1.0), ("proportions", "Proportions (0-1)", 0.0, 1.0))


def _optional(field: str, label: str, lo: float, hi: float, default: float) -> dict[str, Any]:
    return {
        f"use_{field}": bpy.props.BoolProperty(name=f"Give {label.split(' (')[0].lower()}", default=False),
        field: bpy.props.FloatProperty(name=label, min=lo, max=hi, default=default, precision=1),
    }


_DEFAULTS = {"chest_cm": 90.0, "waist_cm": 78.0, "hips_cm": 98.0, "inseam_cm": 78.0, "muscle": 0.5,
             "proportions": 0.5}

_annotations: dict[str, Any] = {
    "name": bpy.props.StringProperty(name="Name", default="avatar", maxlen=64,
                                     description="[A-Za-z0-9_-]{1,64}: object and file names"),
    "sex": bpy.props.EnumProperty(name="Sex", items=SEX_ITEMS, default="female"),
    "sex_value": bpy.props.FloatProperty(name="Sex (0 female, 1 male)", min=0.0, max=1.0, default=0.5),
    "age_years": bpy.props.FloatProperty(name="Age (years)", min=0.5, max=90.0, default=35.0, precision=1),
    "height_cm": bpy.props.FloatProperty(name="Height (cm)", min=30.0, max=250.0, default=165.0, precision=1,
                                         description="stature; allowed: 0.6-1.35 x the median for the age"),
    "weight_kg": bpy.props.FloatProperty(name="Weight (kg)", min=2.0, max=300.0, default=62.0, precision=1),
    "skin": bpy.props.EnumProperty(name="Skin tone", items=SKIN_ITEMS, default="default"),
    "skin_ita": bpy.props.FloatProperty(name="ITA (degrees)", min=-60.0, max=70.0, default=35.0, precision=1),
    "fitzpatrick": bpy.props.IntProperty(name="Fitzpatrick type", min=1, max=6, default=3),
    "seed": bpy.props.IntProperty(name="Seed", min=0, max=2**31 - 1, default=0,
                                  description="latent seed: same fields + seed give the same avatar"),
    "rig": bpy.props.EnumProperty(name="Rig", items=RIGS, default="game_engine"),
    "bone_names": bpy.props.EnumProperty(name="Bone names", items=NAME_ITEMS, default="internal"),
    "preset": bpy.props.EnumProperty(name="Preset", items=PRESET_ITEMS, default="adult_woman"),
    "random_seed": bpy.props.IntProperty(name="Population seed", min=0, max=2**31 - 1, default=1),
    "export_preset": bpy.props.EnumProperty(name="Format", items=EXPORT_ITEMS, default="glb"),
}
for _field, _label, _lo, _hi in OPTIONAL_NUMBERS:
    _annotations.update(_optional(_field, _label, _lo, _hi, _DEFAULTS[_field]))

AvatarSettings = type("AvatarSettings", (bpy.types.PropertyGroup,), {
    "__annotations__": _annotations,
    "__doc__": "The attributes of the next avatar, in the units of the spec files",
})


def settings_to_entry(s: Any) -> dict[str, Any]:
    """A spec entry (the keys of a ``[[avatar]]`` table) from the panel's fields."""
    entry: dict[str, Any] = {"name": s.name, "sex": s.sex if s.sex != "mix" else round(s.sex_value, 4),
                             "age_years": round(s.age_years, 3), "height_cm": round(s.height_cm, 2),
                             "weight_kg": round(s.weight_kg, 2), "seed": int(s.seed)}
    for field, *_ in OPTIONAL_NUMBERS:
        if getattr(s, f"use_{field}"):
            entry[field] = round(getattr(s, field), 3)
    if s.skin == "ita":
        entry["skin_ita"] = round(s.skin_ita, 2)
    elif s.skin == "fitzpatrick":
        entry["fitzpatrick"] = int(s.fitzpatrick)
    return entry


def entry_to_settings(entry: dict[str, Any], s: Any) -> None:
    """Fill the panel's fields from a spec entry (fields the entry lacks are unticked)."""
    sex = entry.get("sex", "female")
    if isinstance(sex, str):
        s.sex = sex
    elif float(sex) in (0.0, 1.0):  # a parsed request holds the number: 0 female, 1 male
        s.sex = "male" if float(sex) == 1.0 else "female"
    else:
        s.sex, s.sex_value = "mix", float(sex)
    for key in ("age_years", "height_cm", "weight_kg"):
        if key in entry:
            setattr(s, key, float(entry[key]))
    for field, *_ in OPTIONAL_NUMBERS:
        setattr(s, f"use_{field}", field in entry)
        if field in entry:
            setattr(s, field, float(entry[field]))
    if "skin_ita" in entry:
        s.skin, s.skin_ita = "ita", float(entry["skin_ita"])
    elif "fitzpatrick" in entry:
        s.skin, s.fitzpatrick = "fitzpatrick", int(entry["fitzpatrick"])
    else:
        s.skin = "default"
    if "seed" in entry:
        s.seed = int(entry["seed"])
    if "name" in entry:
        s.name = str(entry["name"])


CLASSES = (AvatarSettings,)
