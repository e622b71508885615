"""The avatar spec: what a user may ask for, validated at the boundary.

Keys, units and ranges come from the field table (``fields.py``); every problem is one readable line naming the
avatar, the field, the value and the allowed range. Errors (wrong type, NaN/inf, out of range, unknown or missing
key) stop that avatar; implausible but allowed combinations become warnings later, once the closest plausible
body has been made and the deviation can be measured (``deviations.py``).
"""

from __future__ import annotations

import collections
import dataclasses
import json
import math
import stat
import sys
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
    number_text,
    shown,
)

MAX_SPEC_BYTES = 64 * 1024 * 1024  # a spec of 100,000 avatars takes about 15 MB
PATH_CHARACTERS = 300  # paths in messages are shortened beyond this
# Integers this long are read (and then fail their field's range); longer ones, whose conversion time grows with
# the square of their length, make the file unreadable. Python's own default is 4,300 digits.
MAX_INTEGER_DIGITS = 100_000


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
    hair_color: str | float | None = None
    freckles: float | None = None
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
    """A number inside the field's range, or None with the problem recorded. Integers of any size are compared
    exactly (never converted to float first, which overflows beyond 1e308)."""
    where = f"avatar {avatar!r}: field {f.key!r}"
    integer = f.kind == "int"
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = "a whole number" if integer else "a number"
        problems.append(f"{where} = {shown(value)} must be {kind} ({f.describe_range()})")
        return None
    if isinstance(value, float) and not math.isfinite(value):
        problems.append(f"{where} = {shown(value)} must be finite ({f.describe_range()})")
        return None
    if integer and isinstance(value, float) and not value.is_integer():
        problems.append(f"{where} = {shown(value)} must be a whole number ({f.describe_range()})")
        return None
    if f.lo is not None and f.hi is not None and not f.lo <= value <= f.hi:
        problems.append(f"{where} = {shown(value)} is outside the allowed range {f.describe_range()}")
        return None
    return int(value) if integer else float(value)


def _height(avatar: str, value: Any, age: float | None, problems: list[str]) -> float | None:
    """Stature: a finite number inside the range for the age (checked once the age is known to be valid)."""
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or (isinstance(value, float) and not math.isfinite(value))):
        problems.append(f"avatar {avatar!r}: field 'height_cm' = {shown(value)} must be a finite number of "
                        "centimetres")
        return None
    if age is None:
        return None
    lo, hi = height_range_cm(age)
    if not lo <= value <= hi:
        problems.append(f"avatar {avatar!r}: field 'height_cm' = {shown(value)} is outside the allowed range "
                        f"{number_text(lo)}-{number_text(hi)} cm for age {age:g} years")
        return None
    return float(value)


def _value(avatar: str, f: Field, value: Any, problems: list[str]) -> Any:
    """A validated value of one field (not height_cm), or None with the problem recorded."""
    if f.kind == "sex":
        if isinstance(value, str):
            if value in SEX_WORDS:
                return SEX_WORDS[value]
            problems.append(f"avatar {avatar!r}: field 'sex' = {shown(value)} must be \"female\", \"male\" "
                            "or a number 0-1 (0 female, 1 male)")
            return None
        return _number(avatar, f, value, problems)
    if f.kind == "choice":
        if isinstance(value, str) and value in f.choices:
            return value
        problems.append(f"avatar {avatar!r}: field {f.key!r} = {shown(value)} must be one of "
                        f"{', '.join(repr(c) for c in f.choices)}")
        return None
    if f.kind == "hair":
        if isinstance(value, str):
            if value in f.choices:
                return value
            problems.append(f"avatar {avatar!r}: field {f.key!r} = {shown(value)} must be one of "
                            f"{', '.join(repr(c) for c in f.choices)} or a number {f.describe_range()}")
            return None
        return _number(avatar, f, value, problems)
    if f.kind == "name":
        if isinstance(value, str) and NAME_PATTERN.fullmatch(value):
            return value
        what = f"match {NAME_RULE}" if f.key == "name" else f"be a name matching {NAME_RULE}"
        problems.append(f"avatar {avatar!r}: field {f.key!r} = {shown(value)} must {what}")
        return None
    return _number(avatar, f, value, problems)


def _label(raw_name: Any, index: int) -> str:
    """How messages name an entry: its name (shortened when long), or its position in the file."""
    if isinstance(raw_name, str) and raw_name:
        return raw_name if len(raw_name) <= 64 else raw_name[:32] + "..."
    return f"#{index + 1}"


def parse_avatar(entry: Any, index: int = 0) -> AvatarRequest:
    """Validate one ``[[avatar]]`` table. Raises SpecError listing every problem found."""
    if not isinstance(entry, dict):
        raise SpecError([f"avatar #{index + 1}: must be a table of keys, got {type(entry).__name__}"])
    problems: list[str] = []
    raw_name = entry.get("name")
    label = _label(raw_name, index)
    for key in entry:
        if key not in FIELDS:
            problems.append(f"avatar {label!r}: unknown field {shown(key)} (allowed: {', '.join(FIELDS)})")
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


def _read_spec(path: Path) -> Any:
    """The parsed TOML or JSON of a spec file; SpecError naming the file for anything that stops reading it."""
    where = f"spec {shown(str(path), PATH_CHARACTERS)}"
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise SpecError([f"{where}: not a regular file"])
        with open(path, "rb") as f:
            raw = f.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecError([f"{where}: cannot read: {exc.strerror or exc}"]) from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError([f"{where}: larger than the {MAX_SPEC_BYTES // 2**20} MiB a spec file may have"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError([f"{where}: not UTF-8 text (byte {exc.start})"]) from None
    kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
    digits = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(MAX_INTEGER_DIGITS)  # huge numbers fail their field, not the file
    try:
        return json.loads(text) if kind == "JSON" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise SpecError([f"{where}: not valid {kind}: {exc}"]) from None
    except RecursionError:
        raise SpecError([f"{where}: nested too deeply to read (arrays or tables more than about "
                         f"{sys.getrecursionlimit():,} levels deep)"]) from None
    except (ValueError, MemoryError) as exc:  # an integer longer than MAX_INTEGER_DIGITS
        raise SpecError([f"{where}: not valid {kind}: {shown(str(exc), 120)}"]) from None
    finally:
        sys.set_int_max_str_digits(digits)


def load_spec(path: Path | str) -> tuple[list[AvatarRequest], list[tuple[str, list[str]]]]:
    """Read a TOML (or JSON) spec file. Never raises anything but SpecError.

    Limits: a regular file of at most 64 MiB of UTF-8; nesting as deep as Python's parsers recurse (about 1,000);
    integers of at most 100,000 digits.

    Returns:
        the valid requests, and (key, problems) for each invalid entry. Keys are unique across both: a valid
        avatar's name; an invalid entry's name when no other entry has it, else ``"<name> (entry #i)"``, or
        ``"#i"`` without a usable name. A file that cannot be read or parsed, or has no ``avatar`` list, raises
        SpecError.
    """
    path = Path(path)
    data = _read_spec(path)
    where = f"spec {shown(str(path), PATH_CHARACTERS)}"
    if not isinstance(data, dict) or not isinstance(data.get("avatar"), list) or not data["avatar"]:
        raise SpecError([f"{where}: needs a non-empty list of [[avatar]] tables"])
    extra = [k for k in data if k != "avatar"]
    if extra:
        raise SpecError([f"{where}: unknown top-level key(s) {', '.join(shown(k) for k in extra[:5])} "
                         "(allowed: 'avatar')"])
    requests: list[AvatarRequest] = []
    taken: set[str] = set()
    invalid: list[tuple[int, str | None, list[str]]] = []
    for i, entry in enumerate(data["avatar"]):
        try:
            req = parse_avatar(entry, i)
        except SpecError as exc:
            name = entry.get("name") if isinstance(entry, dict) else None
            invalid.append((i, name if isinstance(name, str) else None, exc.problems))
            continue
        if req.name in taken:
            invalid.append((i, req.name, [f"avatar {req.name!r}: duplicate name (entry #{i + 1}; names become "
                                          "folder names and must be unique)"]))
            continue
        taken.add(req.name)
        requests.append(req)
    names = collections.Counter(n for _, n, _ in invalid if n)
    failures = []
    for i, name, problems in invalid:
        if name and NAME_PATTERN.fullmatch(name) and name not in taken and names[name] == 1:
            key = name
        elif name and len(name) <= 64:
            key = f"{name} (entry #{i + 1})"
        else:
            key = f"#{i + 1}"
        failures.append((key, problems))
    return requests, failures
