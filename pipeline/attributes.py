"""The attribute spec: what a user may ask for, validated at the boundary, and the attribute vector.

Keys, units and ranges are those of ``shared/INTERFACES.md``. Every problem is reported as one readable line
naming the avatar, the field, the value and the allowed range. Errors (wrong type, NaN/inf, out of range,
unknown or missing key) stop that avatar; implausible but allowed combinations become warnings later, when the
closest plausible body has been made and the deviation can be measured.

Attribute vector (``ATTRIBUTE_ORDER``, normalised by ``normalise_attributes``): sex (0 female .. 1 male),
age (log scale), height, weight (log scale), chest, waist, hips, inseam, muscle, proportions, with a mask
of the same length: 1 where the user gave the value, 0 where it was left out (the value slot is then 0).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
STYLES = ("realistic", "comic")

# Median stature (cm) by age (years), both sexes averaged, from the CDC 2000 stature-for-age and WHO
# length-for-age medians (rounded; public domain / open data): anchors of the documented height range.
_MEDIAN_STATURE = ((0.5, 67.0), (1, 75.0), (2, 86.5), (3, 95.5), (4, 102.5), (5, 109.5), (6, 116.0),
                   (8, 127.5), (10, 138.5), (12, 150.5), (14, 162.0), (16, 168.5), (18, 170.0),
                   (40, 169.5), (60, 167.5), (80, 163.5), (90, 161.5))
HEIGHT_RANGE_FACTORS = (0.6, 1.35)  # allowed stature: median-for-age x these factors


def height_range_cm(age_years: float) -> tuple[float, float]:
    """Allowed stature for an age: 0.6 to 1.35 x the median stature-for-age (e.g. 101-229 cm for adults,
    40-90 cm at 6 months). Requests inside it but outside the plausible population become warnings."""
    ages, med = zip(*_MEDIAN_STATURE, strict=True)
    m = float(np.interp(age_years, ages, med))
    return round(m * HEIGHT_RANGE_FACTORS[0], 1), round(m * HEIGHT_RANGE_FACTORS[1], 1)


@dataclasses.dataclass(frozen=True)
class Field:
    """One spec key. ``kind``: number, int, str, sex, choice."""

    name: str
    kind: str
    unit: str = ""
    lo: float | None = None
    hi: float | None = None
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    doc: str = ""


FIELDS: dict[str, Field] = {f.name: f for f in (
    Field("name", "str", required=True, doc="[A-Za-z0-9_-]{1,64}; the output folder name"),
    Field("sex", "sex", lo=0.0, hi=1.0, required=True,
          doc='"female" | "male" | a number in [0, 1] (0 female, 1 male) for in-between bodies'),
    Field("age_years", "number", "years", 0.5, 90.0, required=True),
    Field("height_cm", "number", "cm", required=True, doc="stature; allowed range depends on age"),
    Field("weight_kg", "number", "kg", 2.0, 300.0, required=True),
    Field("chest_cm", "number", "cm", 30.0, 200.0),
    Field("waist_cm", "number", "cm", 25.0, 200.0),
    Field("hips_cm", "number", "cm", 30.0, 200.0),
    Field("inseam_cm", "number", "cm", 15.0, 110.0),
    Field("muscle", "number", "", 0.0, 1.0),
    Field("proportions", "number", "", 0.0, 1.0),
    Field("skin_ita", "number", "degrees", -60.0, 70.0, doc="skin tone as ITA; exclusive with fitzpatrick"),
    Field("fitzpatrick", "int", "", 1, 6, doc="skin type 1-6; exclusive with skin_ita"),
    Field("style", "choice", default="realistic", choices=STYLES),
    Field("comic_style", "str", doc="a trained comic style name"),
    Field("seed", "int", "", 0, 2**31 - 1, default=0, doc="latent seed: same spec + seed -> same avatar"),
)}

ATTRIBUTE_ORDER = ("sex", "age_years", "height_cm", "weight_kg", "chest_cm", "waist_cm", "hips_cm",
                   "inseam_cm", "muscle", "proportions")
REQUIRED_ATTRIBUTES = ("sex", "age_years", "height_cm", "weight_kg")


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
        return {k: getattr(self, k) for k in ATTRIBUTE_ORDER}


def _describe_range(f: Field, lo: float | None = None, hi: float | None = None) -> str:
    lo = f.lo if lo is None else lo
    hi = f.hi if hi is None else hi
    unit = f" {f.unit}" if f.unit else ""
    return f"{lo:g}-{hi:g}{unit}"


def _number(avatar: str, f: Field, value: Any, problems: list[str], integer: bool = False) -> float | None:
    where = f"avatar {avatar!r}: field {f.name!r}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = "a whole number" if integer else "a number"
        problems.append(f"{where} = {value!r} must be {kind} ({_describe_range(f)})")
        return None
    if not math.isfinite(value):
        problems.append(f"{where} = {value!r} must be finite ({_describe_range(f)})")
        return None
    if integer and float(value) != int(value):
        problems.append(f"{where} = {value!r} must be a whole number ({_describe_range(f)})")
        return None
    if f.lo is not None and f.hi is not None and not f.lo <= value <= f.hi:
        problems.append(f"{where} = {value!r} is outside the allowed range {_describe_range(f)}")
        return None
    return int(value) if integer else float(value)


def parse_avatar(entry: Any, index: int = 0) -> AvatarRequest:
    """Validate one ``[[avatar]]`` table. Raises SpecError listing every problem found."""
    problems: list[str] = []
    if not isinstance(entry, dict):
        raise SpecError([f"avatar #{index + 1}: must be a table of keys, got {type(entry).__name__}"])
    raw_name = entry.get("name")
    label = raw_name if isinstance(raw_name, str) and raw_name else f"#{index + 1}"
    for key in entry:
        if key not in FIELDS:
            problems.append(f"avatar {label!r}: unknown field {key!r} (allowed: {', '.join(FIELDS)})")
    for f in FIELDS.values():
        if f.required and f.name not in entry:
            rng = "" if f.lo is None else f" ({_describe_range(f)})"
            problems.append(f"avatar {label!r}: missing required field {f.name!r}{rng}")
    out: dict[str, Any] = {}
    if isinstance(raw_name, str) and NAME_PATTERN.match(raw_name):
        out["name"] = raw_name
    elif "name" in entry:
        problems.append(f"avatar {label!r}: field 'name' = {raw_name!r} must match [A-Za-z0-9_-]{{1,64}}")
    for key, value in entry.items():
        f = FIELDS.get(key)
        if f is None or key == "name":
            continue
        if f.kind == "sex":
            if value in ("female", "male"):
                out[key] = 0.0 if value == "female" else 1.0
            elif isinstance(value, str):
                problems.append(f"avatar {label!r}: field 'sex' = {value!r} must be \"female\", \"male\" "
                                "or a number 0-1 (0 female, 1 male)")
            else:
                v = _number(label, f, value, problems)
                if v is not None:
                    out[key] = v
        elif f.kind == "choice":
            if value not in f.choices:
                problems.append(f"avatar {label!r}: field {key!r} = {value!r} must be one of "
                                f"{', '.join(repr(c) for c in f.choices)}")
            else:
                out[key] = value
        elif f.kind == "str":
            if not isinstance(value, str) or not NAME_PATTERN.match(value):
                problems.append(f"avatar {label!r}: field {key!r} = {value!r} must be a name "
                                "matching [A-Za-z0-9_-]{1,64}")
            else:
                out[key] = value
        elif key == "height_cm":
            continue  # needs the age, checked below
        else:
            v = _number(label, f, value, problems, integer=f.kind == "int")
            if v is not None:
                out[key] = v
    if "height_cm" in entry:
        f = FIELDS["height_cm"]
        value = entry["height_cm"]
        age = out.get("age_years")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            problems.append(f"avatar {label!r}: field 'height_cm' = {value!r} must be a finite number of "
                            "centimetres")
        elif age is not None:
            lo, hi = height_range_cm(age)
            if not lo <= value <= hi:
                problems.append(f"avatar {label!r}: field 'height_cm' = {value!r} is outside the allowed range "
                                f"{lo:g}-{hi:g} cm for age {age:g} years")
            else:
                out["height_cm"] = float(value)
    if "skin_ita" in entry and "fitzpatrick" in entry:
        problems.append(f"avatar {label!r}: fields 'skin_ita' and 'fitzpatrick' are exclusive; give one")
    if problems:
        raise SpecError(problems)
    for f in FIELDS.values():
        if f.name not in out and f.default is not None:
            out[f.name] = f.default
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


def normalise_attributes(values: dict[str, float | None] | list[dict[str, float | None]]
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Attribute vectors and masks in ``ATTRIBUTE_ORDER``.

    Normalisation (so that every slot is O(1)): sex as is; age log1p(years)/log1p(90); height (cm - 140)/40;
    weight log(kg/60); chest, waist, hips (cm - 85)/25; inseam (cm - 70)/20; muscle and proportions
    (x - 0.5) * 2. Missing values (None) give 0 with mask 0.

    Returns:
        (B, 10) float32 vectors and (B, 10) float32 masks.
    """
    rows = [values] if isinstance(values, dict) else list(values)
    a = np.zeros((len(rows), len(ATTRIBUTE_ORDER)), dtype=np.float64)
    m = np.zeros_like(a)
    for i, r in enumerate(rows):  # one row per avatar, not per vertex
        for j, key in enumerate(ATTRIBUTE_ORDER):
            v = r.get(key)
            if v is not None:
                a[i, j], m[i, j] = float(v), 1.0
    return normalise_columns(a, m), m.astype(np.float32)


def normalise_columns(a: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Vectorised normalisation of (B, 10) raw attribute columns (see ``normalise_attributes``)."""
    out = np.zeros_like(a, dtype=np.float64)
    out[:, 0] = a[:, 0]
    out[:, 1] = np.log1p(np.maximum(a[:, 1], 0)) / np.log1p(90.0)
    out[:, 2] = (a[:, 2] - 140.0) / 40.0
    out[:, 3] = np.log(np.maximum(a[:, 3], 1e-3) / 60.0)
    out[:, 4:7] = (a[:, 4:7] - 85.0) / 25.0
    out[:, 7] = (a[:, 7] - 70.0) / 20.0
    out[:, 8:10] = (a[:, 8:10] - 0.5) * 2.0
    return (out * m).astype(np.float32)
