"""The field vocabulary: every key of an ``[[avatar]]`` spec, with its unit, range, measurement and normalisation.

One table, read by the spec parser (``spec.py``), the attribute vector (``attributes.py``), refinement and decoder
training and evaluation (``models/decoder``), the structured warnings (``deviations.py``) and the Blender add-on's
properties (``addon/properties.py``). Standard library only, so the add-on can read it when Blender registers it.

The attribute vector is the fields with a ``norm``, in table order: sex, age, height, weight, chest, waist, hips,
inseam, muscle, proportions. Fields with a ``measurement`` are measured back on the body (``anthropometry.py``)
and refined toward the request; a deviation beyond ``tolerance`` (absolute, or relative to the request when
``relative``) becomes a warning.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from typing import Any, Literal

NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
NAME_RULE = "[A-Za-z0-9_-]{1,64}"
STYLES = ("realistic", "comic")
# hair colour name -> (eumelanin 0-1, red 0-1, grey 0-1): how eyebrows and beard shadow are painted
HAIR_COLORS = {"black": (1.0, 0.0, 0.0), "dark_brown": (0.8, 0.0, 0.0), "brown": (0.6, 0.0, 0.0),
               "blond": (0.25, 0.0, 0.0), "red": (0.45, 1.0, 0.0), "grey": (0.6, 0.0, 0.65), "white": (0.2, 0.0, 1.0)}
HAIR_COLOR_NAMES = tuple(HAIR_COLORS)
SEX_WORDS = {"female": 0.0, "male": 1.0}


@dataclasses.dataclass(frozen=True)
class Norm:
    """How a field becomes an O(1) slot of the attribute vector.

    ``identity``: x; ``linear``: (x - centre) / scale; ``log``: log(max(x, 1e-3) / centre);
    ``log1p``: log1p(max(x, 0)) / log1p(centre).
    """

    kind: Literal["identity", "linear", "log", "log1p"]
    centre: float = 0.0
    scale: float = 1.0


@dataclasses.dataclass(frozen=True)
class Field:
    """One spec key.

    Attributes:
        key: the spec key. kind: ``name`` (a name matching ``NAME_RULE``), ``sex`` ("female", "male" or 0-1),
            ``number``, ``int``, ``choice`` (one of ``choices``), ``hair`` (one of ``choices`` or a number in
            the range).
        label: short label for user interfaces. unit: "cm", "kg", "years", "degrees" or "".
        lo, hi: allowed range (inclusive). For ``height_cm`` the range depends on the age
            (``height_range_cm``); lo and hi are then its envelope over every age.
        required: must be given. default: used when not given (None: the field stays unset).
        choices: allowed values of a ``choice``.
        measurement: the anthropometry key it is measured back as, when the body is refined to it.
        tolerance, relative: the deviation beyond which the achieved value is a warning.
        norm: its slot in the attribute vector, when it has one.
        population_column: its column in the training population (``assets/body/population.npz``).
        ui_default: the add-on's value before the user sets one.
        doc: one line for help texts.
    """

    key: str
    kind: Literal["name", "sex", "number", "int", "choice", "hair"]
    label: str
    unit: str = ""
    lo: float | None = None
    hi: float | None = None
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    measurement: str | None = None
    tolerance: float = 0.0
    relative: bool = False
    norm: Norm | None = None
    ui_default: float | None = None
    doc: str = ""

    @property
    def population_column(self) -> str:
        return self.measurement or self.key

    def describe_range(self, lo: float | None = None, hi: float | None = None) -> str:
        """``"0.5-90 years"``: the allowed range with its unit, numbers written as in the README."""
        lo = self.lo if lo is None else lo
        hi = self.hi if hi is None else hi
        return f"{number_text(lo)}-{number_text(hi)}{' ' + self.unit if self.unit else ''}"

    def tolerance_for(self, requested: float) -> float:
        return self.tolerance * abs(requested) if self.relative else self.tolerance


# Median stature (cm) by age (years), both sexes averaged, from the CDC 2000 stature-for-age and WHO
# length-for-age medians (rounded; public domain / open data): anchors of the documented height range.
MEDIAN_STATURE = ((0.5, 67.0), (1, 75.0), (2, 86.5), (3, 95.5), (4, 102.5), (5, 109.5), (6, 116.0),
                  (8, 127.5), (10, 138.5), (12, 150.5), (14, 162.0), (16, 168.5), (18, 170.0),
                  (40, 169.5), (60, 167.5), (80, 163.5), (90, 161.5))
HEIGHT_RANGE_FACTORS = (0.6, 1.35)  # allowed stature: median-for-age x these factors


def _median_stature(age_years: float) -> float:
    """Piecewise-linear median stature (cm) for an age, constant beyond the table's ends."""
    ages = [a for a, _ in MEDIAN_STATURE]
    if age_years <= ages[0]:
        return MEDIAN_STATURE[0][1]
    if age_years >= ages[-1]:
        return MEDIAN_STATURE[-1][1]
    j = bisect.bisect_right(ages, age_years) - 1
    (a0, m0), (a1, m1) = MEDIAN_STATURE[j], MEDIAN_STATURE[j + 1]
    return (m1 - m0) / (a1 - a0) * (age_years - a0) + m0


def height_range_cm(age_years: float) -> tuple[float, float]:
    """Allowed stature for an age: 0.6 to 1.35 x the median stature-for-age (e.g. 101-229 cm for adults,
    40-90 cm at 6 months). Requests inside it but outside the plausible population become warnings."""
    m = _median_stature(age_years)
    return round(m * HEIGHT_RANGE_FACTORS[0], 1), round(m * HEIGHT_RANGE_FACTORS[1], 1)


_HEIGHT_ENVELOPE = (round(min(m for _, m in MEDIAN_STATURE) * HEIGHT_RANGE_FACTORS[0], 1),
                    round(max(m for _, m in MEDIAN_STATURE) * HEIGHT_RANGE_FACTORS[1], 1))

FIELDS: dict[str, Field] = {f.key: f for f in (
    Field("name", "name", "Name", required=True, doc=f"{NAME_RULE}; the output folder name"),
    Field("sex", "sex", "Sex", lo=0.0, hi=1.0, required=True, norm=Norm("identity"), ui_default=0.5,
          doc='"female" | "male" | a number in [0, 1] (0 female, 1 male) for in-between bodies'),
    Field("age_years", "number", "Age", "years", 0.5, 90.0, required=True, norm=Norm("log1p", 90.0),
          ui_default=35.0),
    Field("height_cm", "number", "Height", "cm", *_HEIGHT_ENVELOPE, required=True, measurement="stature_cm",
          tolerance=0.2, norm=Norm("linear", 140.0, 40.0), ui_default=165.0,
          doc="stature; allowed: 0.6-1.35 x the median stature for the age"),
    Field("weight_kg", "number", "Weight", "kg", 2.0, 300.0, required=True, measurement="mass_kg",
          tolerance=0.01, relative=True, norm=Norm("log", 60.0), ui_default=62.0),
    Field("chest_cm", "number", "Chest", "cm", 30.0, 200.0, measurement="chest_cm", tolerance=0.5,
          norm=Norm("linear", 85.0, 25.0), ui_default=90.0, doc="tape girth through the bust point"),
    Field("waist_cm", "number", "Waist", "cm", 25.0, 200.0, measurement="waist_cm", tolerance=0.5,
          norm=Norm("linear", 85.0, 25.0), ui_default=78.0, doc="tape girth at the natural waist"),
    Field("hips_cm", "number", "Hips", "cm", 30.0, 200.0, measurement="hips_cm", tolerance=0.5,
          norm=Norm("linear", 85.0, 25.0), ui_default=98.0, doc="tape girth over the buttocks"),
    Field("inseam_cm", "number", "Inseam", "cm", 15.0, 110.0, measurement="inseam_cm", tolerance=0.5,
          norm=Norm("linear", 70.0, 20.0), ui_default=78.0, doc="crotch height above the sole"),
    Field("muscle", "number", "Muscle", "", 0.0, 1.0, norm=Norm("linear", 0.5, 0.5), ui_default=0.5),
    Field("proportions", "number", "Proportions", "", 0.0, 1.0, norm=Norm("linear", 0.5, 0.5), ui_default=0.5),
    Field("skin_ita", "number", "ITA", "degrees", -60.0, 70.0, ui_default=35.0,
          doc="skin tone as ITA; exclusive with fitzpatrick"),
    Field("fitzpatrick", "int", "Fitzpatrick type", "", 1, 6, ui_default=3,
          doc="skin type 1-6; exclusive with skin_ita"),
    Field("hair_color", "hair", "Hair colour", "", 0.0, 1.0, choices=HAIR_COLOR_NAMES,
          doc="eyebrows and beard shadow: " + "|".join(HAIR_COLOR_NAMES)
          + " or an eumelanin amount 0-1 (0 white-blond, 1 black); default follows skin tone and age"),
    Field("freckles", "number", "Freckles", "", 0.0, 1.0, ui_default=0.2,
          doc="freckle amount 0-1; default follows skin tone and age"),
    Field("style", "choice", "Style", default="realistic", choices=STYLES),
    Field("comic_style", "name", "Comic style", doc="a trained comic style name"),
    Field("seed", "int", "Seed", "", 0, 2**31 - 1, default=0, ui_default=0,
          doc="latent seed: same spec + seed -> same avatar"),
)}

EXCLUSIVE = (("skin_ita", "fitzpatrick"),)
ATTRIBUTE_ORDER: tuple[str, ...] = tuple(k for k, f in FIELDS.items() if f.norm is not None)
REQUIRED_ATTRIBUTES: tuple[str, ...] = tuple(k for k in ATTRIBUTE_ORDER if FIELDS[k].required)
OPTIONAL_ATTRIBUTES: tuple[str, ...] = tuple(k for k in ATTRIBUTE_ORDER if not FIELDS[k].required)
MEASURED_FIELDS: tuple[str, ...] = tuple(k for k, f in FIELDS.items() if f.measurement)
GIRTH_FIELDS = ("chest_cm", "waist_cm", "hips_cm")


def number_text(x: float) -> str:
    """A bound as people write it: whole numbers in full (``2147483647``), others shortest (``0.5``, ``101.8``)."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


SHOWN_CHARACTERS = 40


def shown(value: object, limit: int = SHOWN_CHARACTERS) -> str:
    """A value for an error message, never long: ``'aaaa...' (1,048,576 characters)``, ``an integer of 5,000
    digits``, ``a list of 3 items``. Safe for any value a parser returns (huge, deep or long)."""
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        if value.bit_length() <= 200:
            return repr(value)
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1:,} digits"
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        r = repr(value[:max(8, limit - 8)])
        return f"{r[:-1]}...{r[-1]} ({len(value):,} characters)"
    if isinstance(value, list | tuple | dict):
        n = len(value)
        return f"a {'table' if isinstance(value, dict) else 'list'} of {n:,} item{'s' if n != 1 else ''}"
    return f"a {type(value).__name__}"


def column(key: str) -> int:
    """The attribute-vector slot of a field (a ValueError naming the allowed keys otherwise)."""
    try:
        return ATTRIBUTE_ORDER.index(key)
    except ValueError:
        raise ValueError(f"{key!r} has no attribute slot; slots: {', '.join(ATTRIBUTE_ORDER)}") from None


def measurement_unit(key: str) -> str:
    """Unit of a measurement key (``stature_cm`` -> "cm", ``mass_kg`` -> "kg")."""
    return key.rsplit("_", 1)[-1]
