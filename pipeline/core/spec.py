"""The avatar spec: what a user may ask for, validated at the boundary.

Keys, units and ranges come from the field table (``fields.py``); every problem is one readable line naming the
avatar, the field, the value and the allowed range. Errors (wrong type, NaN/inf, out of range, unknown or missing
key) stop that avatar; implausible but allowed combinations become warnings later, once the closest plausible
body has been made and the deviation can be measured (``deviations.py``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from pathlib import Path
from typing import Any

from pipeline.core.fields import (
    ATTRIBUTE_ORDER,
    EXCLUSIVE,
    FIELDS,
    NAME_PATTERN,
    NAME_RULE,
    SEX_WORDS,
    Field,
    height_range_cm,
)


class SpecError(ValueError):
    """One or more problems with a spec; ``problems`` holds one readable line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclasses.dataclass(frozen=True)
class AvatarRequest:
    """A validated avatar request (units in the names; None = not given)."""

    name: str
    sex: float
    age_years: float
    height_cm: float
    weight_kg: float
    chest_cm: float | None = None
    waist_cm: float | None = None
    hips_cm: float | None = None
    inseam_cm: float | None = None
    muscle: float | None = None
    proportions: float | None = None
    skin_ita: float | None = None
    fitzpatrick: int | None = None
    style: str = "realistic"
    comic_style: str | None = None
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The request as given (None fields left out), for avatar.json and manifests."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    def attribute_values(self) -> dict[str, float | None]:
        """The attribute-vector fields (``fields.ATTRIBUTE_ORDER``), None where not given."""
        return {k: getattr(self, k) for k in ATTRIBUTE_ORDER}


def _number(avatar: str, f: Field, value: Any, problems: list[str]) -> float | None:
    where = f"avatar {avatar!r}: field {f.key!r}"
    integer = f.kind == "int"
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = "a whole number" if integer else "a number"
        problems.append(f"{where} = {value!r} must be {kind} ({f.describe_range()})")
        return None
    if not math.isfinite(value):
        problems.append(f"{where} = {value!r} must be finite ({f.describe_range()})")
        return None
    if integer and float(value) != int(value):
        problems.append(f"{where} = {value!r} must be a whole number ({f.describe_range()})")
        return None
    if f.lo is not None and f.hi is not None and not f.lo <= value <= f.hi:
        problems.append(f"{where} = {value!r} is outside the allowed range {f.describe_range()}")
        return None
    return int(value) if integer else float(value)


def _height(avatar: str, value: Any, age: float | None, problems: list[str]) -> float | None:
    """Stature: a finite number inside the range for the age (checked once the age is known to be valid)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        problems.append(f"avatar {avatar!r}: field 'height_cm' = {value!r} must be a finite number of centimetres")
        return None
    if age is None:
        return None
    lo, hi = height_range_cm(age)
    if not lo <= value <= hi:
        problems.append(f"avatar {avatar!r}: field 'height_cm' = {value!r} is outside the allowed range "
                        f"{lo:g}-{hi:g} cm for age {age:g} years")
        return None
    return float(value)


def _value(avatar: str, f: Field, value: Any, problems: list[str]) -> Any:
    """A validated value of one field (not height_cm), or None with the problem recorded."""
    if f.kind == "sex":
        if isinstance(value, str):
            if value in SEX_WORDS:
                return SEX_WORDS[value]
            problems.append(f"avatar {avatar!r}: field 'sex' = {value!r} must be \"female\", \"male\" "
                            "or a number 0-1 (0 female, 1 male)")
            return None
        return _number(avatar, f, value, problems)
    if f.kind == "choice":
        if value in f.choices:
            return value
        problems.append(f"avatar {avatar!r}: field {f.key!r} = {value!r} must be one of "
                        f"{', '.join(repr(c) for c in f.choices)}")
        return None
    if f.kind == "name":
        if isinstance(value, str) and NAME_PATTERN.fullmatch(value):
            return value
        what = f"match {NAME_RULE}" if f.key == "name" else f"be a name matching {NAME_RULE}"
        problems.append(f"avatar {avatar!r}: field {f.key!r} = {value!r} must {what}")
        return None
    return _number(avatar, f, value, problems)


def parse_avatar(entry: Any, index: int = 0) -> AvatarRequest:
    """Validate one ``[[avatar]]`` table. Raises SpecError listing every problem found."""
    if not isinstance(entry, dict):
        raise SpecError([f"avatar #{index + 1}: must be a table of keys, got {type(entry).__name__}"])
    problems: list[str] = []
    raw_name = entry.get("name")
    label = raw_name if isinstance(raw_name, str) and raw_name else f"#{index + 1}"
    for key in entry:
        if key not in FIELDS:
            problems.append(f"avatar {label!r}: unknown field {key!r} (allowed: {', '.join(FIELDS)})")
    for f in FIELDS.values():
        if f.required and f.key not in entry:
            rng = "" if f.lo is None or f.key == "height_cm" else f" ({f.describe_range()})"
            problems.append(f"avatar {label!r}: missing required field {f.key!r}{rng}")
    out: dict[str, Any] = {}
    for key, value in entry.items():
        f = FIELDS.get(key)
        if f is None or key == "height_cm":
            continue
        v = _value(label, f, value, problems)
        if v is not None:
            out[key] = v
    if "height_cm" in entry:
        h = _height(label, entry["height_cm"], out.get("age_years"), problems)
        if h is not None:
            out["height_cm"] = h
    for a, b in EXCLUSIVE:
        if a in entry and b in entry:
            problems.append(f"avatar {label!r}: fields {a!r} and {b!r} are exclusive; give one")
    if problems:
        raise SpecError(problems)
    for f in FIELDS.values():
        if f.key not in out and f.default is not None:
            out[f.key] = f.default
    return AvatarRequest(**out)


def load_spec(path: Path | str) -> tuple[list[AvatarRequest], list[tuple[str, list[str]]]]:
    """Read a TOML (or JSON) spec file.

    Returns:
        the valid requests, and (avatar label, problems) for each invalid one. A file that cannot be read or
        parsed, or has no ``avatar`` list, raises SpecError.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([f"spec {str(path)!r}: cannot read: {exc}"]) from exc
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise SpecError([f"spec {str(path)!r}: not valid {path.suffix.lstrip('.').upper() or 'TOML'}: {exc}"]
                        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("avatar"), list) or not data["avatar"]:
        raise SpecError([f"spec {str(path)!r}: needs a non-empty list of [[avatar]] tables"])
    extra = [k for k in data if k != "avatar"]
    if extra:
        raise SpecError([f"spec {str(path)!r}: unknown top-level key(s) {', '.join(map(repr, extra))} "
                         "(allowed: 'avatar')"])
    requests: list[AvatarRequest] = []
    failures: list[tuple[str, list[str]]] = []
    seen: set[str] = set()
    for i, entry in enumerate(data["avatar"]):
        try:
            req = parse_avatar(entry, i)
        except SpecError as exc:
            name = entry.get("name") if isinstance(entry, dict) else None
            failures.append((name if isinstance(name, str) else f"#{i + 1}", exc.problems))
            continue
        if req.name in seen:
            failures.append((req.name, [f"avatar {req.name!r}: duplicate name (names become folder names)"]))
            continue
        seen.add(req.name)
        requests.append(req)
    return requests, failures
