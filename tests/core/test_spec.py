"""Every bad input of the attribute spec gives a readable error naming avatar, field, value and range."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pipeline.core.attributes import normalise_attributes
from pipeline.core.fields import ATTRIBUTE_ORDER, FIELDS, height_range_cm
from pipeline.core.spec import SpecError, load_spec, parse_avatar

GOOD = {"name": "ana", "sex": "female", "age_years": 34, "height_cm": 168.0, "weight_kg": 61.0}


def _err(**changes):
    entry = {**GOOD, **changes}
    entry = {k: v for k, v in entry.items() if v is not _DROP}
    with pytest.raises(SpecError) as exc:
        parse_avatar(entry)
    return "\n".join(exc.value.problems)


_DROP = object()


def test_good_entry_and_defaults():
    r = parse_avatar({**GOOD, "chest_cm": 88, "seed": 7})
    assert r.sex == 0.0 and r.height_cm == 168.0 and r.chest_cm == 88.0 and r.seed == 7
    assert r.style == "realistic" and parse_avatar(GOOD).seed == 0
    assert parse_avatar({**GOOD, "sex": "male"}).sex == 1.0
    assert parse_avatar({**GOOD, "sex": 0.3}).sex == 0.3


@pytest.mark.parametrize("field, value, expected", [
    ("age_years", 0.2, "avatar 'ana': field 'age_years' = 0.2 is outside the allowed range 0.5-90 years"),
    ("age_years", 95, "outside the allowed range 0.5-90 years"),
    ("weight_kg", 1.0, "field 'weight_kg' = 1.0 is outside the allowed range 2-300 kg"),
    ("weight_kg", 400, "2-300 kg"),
    ("chest_cm", 10, "field 'chest_cm' = 10 is outside the allowed range 30-200 cm"),
    ("waist_cm", 250, "field 'waist_cm' = 250 is outside the allowed range 25-200 cm"),
    ("hips_cm", -3, "field 'hips_cm' = -3"),
    ("inseam_cm", 150, "field 'inseam_cm' = 150 is outside the allowed range 15-110 cm"),
    ("muscle", 1.5, "field 'muscle' = 1.5 is outside the allowed range 0-1"),
    ("proportions", -0.1, "field 'proportions' = -0.1 is outside the allowed range 0-1"),
    ("skin_ita", 80, "field 'skin_ita' = 80 is outside the allowed range -60-70 degrees"),
    ("fitzpatrick", 7, "field 'fitzpatrick' = 7 is outside the allowed range 1-6"),
    ("fitzpatrick", 2.5, "field 'fitzpatrick' = 2.5 must be a whole number"),
    ("seed", -1, "field 'seed' = -1 is outside the allowed range"),
    ("seed", 1.5, "field 'seed' = 1.5 must be a whole number"),
    ("sex", 1.2, "field 'sex' = 1.2 is outside the allowed range 0-1"),
    ("sex", "other", "field 'sex' = 'other' must be \"female\", \"male\" or a number 0-1"),
    ("style", "anime", "field 'style' = 'anime' must be one of 'realistic', 'comic'"),
    ("comic_style", "../x", "field 'comic_style' = '../x' must be a name"),
    ("height_cm", 300.0, "field 'height_cm' = 300.0 is outside the allowed range 101.8-229 cm for age 34 years"),
    ("height_cm", 50.0, "for age 34 years"),
    ("name", "../../etc", "field 'name' = '../../etc' must match [A-Za-z0-9_-]{1,64}"),
    ("name", "x" * 65, "must match"),
])
def test_out_of_range_and_bad_values(field, value, expected):
    assert expected in _err(**{field: value})


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("field", ["age_years", "weight_kg", "chest_cm", "muscle", "height_cm", "sex"])
def test_nan_and_inf_rejected(field, value):
    msg = _err(**{field: value})
    assert f"field {field!r}" in msg and ("finite" in msg or "outside" in msg)


@pytest.mark.parametrize("field, value", [("age_years", "34"), ("weight_kg", True), ("height_cm", [168]),
                                          ("muscle", None), ("seed", "7")])
def test_wrong_types(field, value):
    msg = _err(**{field: value})
    assert f"field {field!r}" in msg and "must be" in msg


@pytest.mark.parametrize("field", ["name", "sex", "age_years", "height_cm", "weight_kg"])
def test_missing_required(field):
    assert f"missing required field {field!r}" in _err(**{field: _DROP})


def test_unknown_key_and_exclusive_skin_fields():
    assert "unknown field 'hieght_cm'" in _err(hieght_cm=170)
    assert "'skin_ita' and 'fitzpatrick' are exclusive" in _err(skin_ita=30.0, fitzpatrick=3)


def test_all_problems_reported_at_once():
    msg = _err(age_years=200, weight_kg=-1, muscle=3)
    assert msg.count("\n") >= 2


def test_height_range_depends_on_age():
    assert height_range_cm(34) == (101.8, 229.0)
    lo, hi = height_range_cm(0.5)
    assert 35 < lo < 45 and 85 < hi < 95
    # a 120 cm adult is allowed (a warning later, not an error)
    parse_avatar({**GOOD, "height_cm": 120.0, "weight_kg": 150.0})


def test_load_spec_toml_and_json(tmp_path):
    toml = tmp_path / "s.toml"
    toml.write_text('[[avatar]]\nname = "a"\nsex = "male"\nage_years = 30\nheight_cm = 180\nweight_kg = 80\n'
                    '[[avatar]]\nname = "b"\nsex = "male"\nage_years = 300\nheight_cm = 180\nweight_kg = 80\n'
                    '[[avatar]]\nname = "a"\nsex = "male"\nage_years = 30\nheight_cm = 180\nweight_kg = 80\n')
    ok, bad = load_spec(toml)
    assert [r.name for r in ok] == ["a"]
    assert bad[0][0] == "b" and "age_years" in bad[0][1][0]
    # the duplicate's failure gets its own key: a manifest keyed by it never hides it behind the valid 'a'
    assert bad[1][0] == "a (entry #3)" and "duplicate name" in bad[1][1][0]
    js = tmp_path / "s.json"
    js.write_text(json.dumps({"avatar": [GOOD]}))
    assert load_spec(js)[0][0].name == "ana"


@pytest.mark.parametrize("text, expected", [
    ("not toml [[[", "not valid TOML"),
    ('[[person]]\nname = "a"\n', "needs a non-empty list of [[avatar]] tables"),
    ('title = "x"\n[[avatar]]\nname = "a"\n', "unknown top-level key(s) 'title'"),
])
def test_bad_files(tmp_path, text, expected):
    p = tmp_path / "s.toml"
    p.write_text(text)
    with pytest.raises(SpecError, match=expected.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        load_spec(p)
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "missing.toml")


def test_attribute_vector_order_and_mask():
    a, m = normalise_attributes({"sex": 1.0, "age_years": 90.0, "height_cm": 180.0, "weight_kg": 60.0,
                                 "chest_cm": None, "muscle": 0.5})
    assert a.shape == m.shape == (1, len(ATTRIBUTE_ORDER))
    assert m[0].tolist() == [1, 1, 1, 1, 0, 0, 0, 0, 1, 0]
    assert np.allclose(a[0, :4], [1.0, 1.0, 1.0, 0.0]) and a[0, 4] == 0 and a[0, 8] == 0
    assert set(ATTRIBUTE_ORDER) <= set(FIELDS)
