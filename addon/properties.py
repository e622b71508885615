"""The panel's fields (``scene.avatar_settings``): every key of the attribute spec, with its unit and range.

Labels, units, ranges, defaults and choices come from the core's tables (``pipeline.core.fields`` and the rig,
bone-name, export and preset tables), read when Blender registers the add-on; a test compares every property
Blender registered with them. The stature range depends on the age, so its property spans the range over every
age and the request is checked when generating, with an error naming the field, the value and the allowed range.
Optional fields have a checkbox: unchecked means "not given" (the decoder infers them).
"""

from __future__ import annotations

from typing import Any

import bpy

from pipeline.core.export_targets import EXPORT_TARGETS
from pipeline.core.fields import FIELDS, HAIR_COLORS, OPTIONAL_ATTRIBUTES, SEX_WORDS
from pipeline.core.presets import PERSON_PRESETS
from pipeline.core.rig_names import NAME_SET_LABELS, RIG_LABELS

SEX_ITEMS = (*((w, w.capitalize(), "") for w in SEX_WORDS), ("mix", "In between", "a number from 0 to 1"))
SKIN_ITEMS = (("default", "Default", "ITA 34.5 (intermediate)"),
              ("ita", "ITA angle", f"degrees, {FIELDS['skin_ita'].describe_range()}"),
              ("fitzpatrick", "Fitzpatrick", f"skin type {FIELDS['fitzpatrick'].describe_range()}"))
HAIR_ITEMS = (("default", "Default", "follows skin tone and age"),
              *((h, h.replace("_", " ").capitalize(), "") for h in FIELDS["hair_color"].choices))
RIG_ITEMS = tuple((k, *v) for k, v in RIG_LABELS.items())
NAME_ITEMS = tuple((k, *v) for k, v in NAME_SET_LABELS.items())
PRESET_ITEMS = tuple((k, k.replace("_", " ").capitalize(), "") for k in PERSON_PRESETS)
EXPORT_ITEMS = tuple((t.name, t.label, t.description) for t in EXPORT_TARGETS.values())
OPTIONAL_NUMBERS = OPTIONAL_ATTRIBUTES  # the optional numeric keys, in the spec's order
PREVIEW_ENGINE_ITEMS = (("cycles", "Cycles", "path tracing on the CPU"),
                        ("eevee", "EEVEE", "rasterised; draws the comic toon material"))
STYLE_ITEMS = tuple((k, k.capitalize(), "") for k in FIELDS["style"].choices)
_COMIC_ITEMS: list[tuple[str, str, str]] = []  # Blender needs dynamic enum items kept alive by Python


def comic_style_items(_self: Any, _context: Any) -> list[tuple[str, str, str]]:
    """The comic styles installed (shipped, then the user styles folder), read when the menu opens."""
    from pipeline.core.comic_styles import DEFAULT_COMIC_STYLE, comic_style_dirs

    _COMIC_ITEMS[:] = [("default", "Default", f"the default style ({DEFAULT_COMIC_STYLE})"),
                       *((n, n.replace("_", " ").capitalize(), str(p)) for n, p in comic_style_dirs().items())]
    return _COMIC_ITEMS


def _float(key: str, name: str = "", **kw: Any) -> Any:
    """A float property with the field's label and unit (or range when it has no unit), range and default."""
    f = FIELDS[key]
    name = name or f"{f.label} ({f.unit or f'{f.lo:g}-{f.hi:g}'})"
    return bpy.props.FloatProperty(name=name, min=f.lo, max=f.hi, default=f.ui_default, description=f.doc, **kw)


def _int(key: str, **kw: Any) -> Any:
    f = FIELDS[key]
    return bpy.props.IntProperty(name=f.label, min=int(f.lo), max=int(f.hi), default=int(f.ui_default),
                                 description=f.doc, **kw)


_annotations: dict[str, Any] = {
    "name": bpy.props.StringProperty(name="Name", default="avatar", maxlen=64, description=FIELDS["name"].doc),
    "sex": bpy.props.EnumProperty(name="Sex", items=SEX_ITEMS, default="female"),
    "sex_value": _float("sex", name="Sex (0 female, 1 male)"),
    "age_years": _float("age_years", precision=1),
    "height_cm": _float("height_cm", precision=1),
    "weight_kg": _float("weight_kg", precision=1),
    "skin": bpy.props.EnumProperty(name="Skin tone", items=SKIN_ITEMS, default="default"),
    "skin_ita": _float("skin_ita", precision=1),
    "fitzpatrick": _int("fitzpatrick"),
    "hair_color": bpy.props.EnumProperty(name="Hair colour", items=HAIR_ITEMS, default="default",
                                         description=FIELDS["hair_color"].doc),
    "use_freckles": bpy.props.BoolProperty(name="Give freckles", default=False),
    "freckles": _float("freckles", precision=2),
    "seed": _int("seed"),
    "style": bpy.props.EnumProperty(name="Style", items=STYLE_ITEMS, default="realistic",
                                    description="realistic skin, or the albedo redrawn in a comic style"),
    "comic_style": bpy.props.EnumProperty(name="Comic style", items=comic_style_items,
                                          description=FIELDS["comic_style"].doc),
    "rig": bpy.props.EnumProperty(name="Rig", items=RIG_ITEMS, default="game_engine"),
    "bone_names": bpy.props.EnumProperty(name="Bone names", items=NAME_ITEMS, default="internal"),
    "preset": bpy.props.EnumProperty(name="Preset", items=PRESET_ITEMS, default="adult_woman"),
    "random_seed": bpy.props.IntProperty(name="Population seed", min=0, max=2**31 - 1, default=1),
    "export_preset": bpy.props.EnumProperty(name="Format", items=EXPORT_ITEMS, default="glb"),
    "preview_engine": bpy.props.EnumProperty(name="Engine", items=PREVIEW_ENGINE_ITEMS, default="cycles"),
    "preview_enhance": bpy.props.BoolProperty(
        name="Enhance", default=True,
        description="The engine at half resolution plus full-resolution passes, made full resolution by the "
                    "render enhancer (a fraction of the render time for the same picture)"),
    "preview_folder": bpy.props.StringProperty(name="Folder", subtype="DIR_PATH", default="//avatar_previews",
                                               description="where preview.png and preview_side.png are written"),
}
for _key in OPTIONAL_NUMBERS:
    _annotations[f"use_{_key}"] = bpy.props.BoolProperty(name=f"Give {FIELDS[_key].label.lower()}", default=False)
    _annotations[_key] = _float(_key, precision=1)

AvatarSettings = type("AvatarSettings", (bpy.types.PropertyGroup,), {
    "__annotations__": _annotations,
    "__doc__": "The attributes of the next avatar, in the units of the spec files",
})


def settings_to_entry(s: Any) -> dict[str, Any]:
    """A spec entry (the keys of a ``[[avatar]]`` table) from the panel's fields."""
    entry: dict[str, Any] = {"name": s.name, "sex": s.sex if s.sex != "mix" else round(s.sex_value, 4),
                             "age_years": round(s.age_years, 3), "height_cm": round(s.height_cm, 2),
                             "weight_kg": round(s.weight_kg, 2), "seed": int(s.seed)}
    for field in OPTIONAL_NUMBERS:
        if getattr(s, f"use_{field}"):
            entry[field] = round(getattr(s, field), 3)
    if s.skin == "ita":
        entry["skin_ita"] = round(s.skin_ita, 2)
    elif s.skin == "fitzpatrick":
        entry["fitzpatrick"] = int(s.fitzpatrick)
    if s.hair_color != "default":
        entry["hair_color"] = s.hair_color
    if s.use_freckles:
        entry["freckles"] = round(s.freckles, 3)
    if s.style != "realistic":
        entry["style"] = s.style
        if s.comic_style and s.comic_style != "default":
            entry["comic_style"] = s.comic_style
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
    for field in OPTIONAL_NUMBERS:
        setattr(s, f"use_{field}", field in entry)
        if field in entry:
            setattr(s, field, float(entry[field]))
    if "skin_ita" in entry:
        s.skin, s.skin_ita = "ita", float(entry["skin_ita"])
    elif "fitzpatrick" in entry:
        s.skin, s.fitzpatrick = "fitzpatrick", int(entry["fitzpatrick"])
    else:
        s.skin = "default"
    hair = entry.get("hair_color")
    # a melanin number has no menu item: the nearest named colour stands in for it
    if isinstance(hair, int | float) and not isinstance(hair, bool):
        hair = min(HAIR_COLORS, key=lambda k: abs(HAIR_COLORS[k][0] - float(hair)) + HAIR_COLORS[k][2])
    s.hair_color = hair if isinstance(hair, str) and hair in FIELDS["hair_color"].choices else "default"
    s.use_freckles = "freckles" in entry
    if "freckles" in entry:
        s.freckles = float(entry["freckles"])
    if "seed" in entry:
        s.seed = int(entry["seed"])
    s.style = entry.get("style", "realistic") if entry.get("style") in FIELDS["style"].choices else "realistic"
    names = {i[0] for i in comic_style_items(s, None)}
    s.comic_style = entry["comic_style"] if entry.get("comic_style") in names else "default"
    if "name" in entry:
        s.name = str(entry["name"])


CLASSES = (AvatarSettings,)
