"""Structured warnings: what an avatar was asked for and did not get.

Each warning is ``{"field", "requested", "achieved", "unit", "message"}`` (``avatar.json``, the manifest, the
add-on's panel). Two kinds: a measured field whose achieved value is beyond its tolerance (``fields.Field``), the
request lying outside the population the body space covers; and an option that is accepted but has no effect
here (``style = "comic"`` while no comic style is installed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.core.fields import FIELDS, MEASURED_FIELDS


def warning(field: str, requested: Any, achieved: Any, unit: str, message: str) -> dict[str, Any]:
    return {"field": field, "requested": requested, "achieved": achieved, "unit": unit, "message": message}


def measurement_warnings(name: str, requested: Mapping[str, Any], achieved: Mapping[str, float]
                         ) -> list[dict[str, Any]]:
    """Warnings for the measured fields of one avatar whose achieved value misses the request.

    Args:
        name: the avatar's name. requested: spec key -> value (None or absent = not given).
        achieved: measurement key (``stature_cm`` ...) -> the body's value, cm or kg.
    """
    out = []
    for key in MEASURED_FIELDS:
        f = FIELDS[key]
        want = requested.get(key)
        if want is None:
            continue
        got = float(achieved[f.measurement])
        dev = got - want
        if abs(dev) > f.tolerance_for(want):
            out.append(warning(key, want, round(got, 2), f.unit, (
                f"avatar {name!r}: {key} requested {want:g}, the closest plausible body has {got:.1f} {f.unit} "
                f"(deviation {dev:+.1f} {f.unit}); the request lies outside the population the body space covers")))
    return out


def style_warnings(name: str, style: str, comic_style: str | None, comic_styles: tuple[str, ...] = ()
                   ) -> list[dict[str, Any]]:
    """Warnings for a comic look that cannot be made: no comic style installed, or not the one named."""
    out = []
    if style == "comic" and not comic_styles:
        out.append(warning("style", "comic", "realistic", "", f"avatar {name!r}: style 'comic' needs a comic "
                           "style and none is installed; the avatar has the realistic look"))
    if comic_style is not None and comic_style not in comic_styles:
        from pipeline.core.comic_styles import comic_style_for

        known = ", ".join(comic_styles) or "none is installed"
        used = comic_style_for(style, comic_style, comic_styles)
        effect = f"style {used!r} is used instead" if used else "it has no effect"
        out.append(warning("comic_style", comic_style, used, "", f"avatar {name!r}: comic_style {comic_style!r} "
                           f"is not an installed comic style ({known}); {effect}"))
    return out
