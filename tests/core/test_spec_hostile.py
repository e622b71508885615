"""Hostile spec files: nothing but SpecError ever leaves spec loading, every refusal names its field or the file,
messages stay short, and the valid entries of a partly bad file are kept."""

from __future__ import annotations

import json

import pytest

from pipeline.core.spec import MAX_SPEC_BYTES, SpecError, load_spec

GOOD = '[[avatar]]\nname = "ok"\nsex = "female"\nage_years = 30\nheight_cm = 165\nweight_kg = 60\n'


def _spec(tmp_path, text: str | bytes, name: str = "s.toml"):
    p = tmp_path / name
    (p.write_bytes if isinstance(text, bytes) else p.write_text)(text)
    return p


@pytest.mark.parametrize("field, value", [
    ("seed", "1" + "0" * 309), ("weight_kg", "1" + "0" * 400), ("age_years", "-1" + "0" * 400),
    ("height_cm", "1" + "0" * 400), ("fitzpatrick", "1" + "0" * 30), ("muscle", "inf"), ("chest_cm", "nan"),
    ("weight_kg", "-inf"), ("sex", "1" + "0" * 4000),
])
def test_huge_and_non_finite_numbers_fail_their_entry_only(tmp_path, field, value):
    lines = [x for x in GOOD.replace('"ok"', '"bad"').splitlines() if not x.startswith(f"{field} =")]
    ok, bad = load_spec(_spec(tmp_path, GOOD + "\n".join([*lines, f"{field} = {value}"]) + "\n"))
    assert [r.name for r in ok] == ["ok"]
    (key, problems), = bad
    assert key == "bad" and any(f"field {field!r}" in p for p in problems), problems
    assert all(len(p) < 300 for p in problems), problems


def test_integers_beyond_python_s_default_fail_their_field_and_beyond_the_limit_the_file(tmp_path):
    ok, bad = load_spec(_spec(tmp_path, GOOD + GOOD.replace('"ok"', '"big"') + "seed = 1" + "0" * 5000 + "\n"))
    assert [r.name for r in ok] == ["ok"] and "an integer of about 5,001 digits" in bad[0][1][0]
    for name, text in (("s.toml", GOOD + "seed = 1" + "0" * 100_001 + "\n"),
                       ("s.json", '{"avatar": [{"name": "a", "seed": 1' + "0" * 100_001 + "}]}")):
        with pytest.raises(SpecError) as exc:
            load_spec(_spec(tmp_path, text, name))
        (line,) = exc.value.problems
        assert line.startswith(f"spec '{tmp_path / name}'") and len(line) < 300, line


@pytest.mark.parametrize("name, text", [
    ("deep.json", '{"avatar": [' + "[" * 100_000 + "]" * 100_000 + "]}"),
    ("deep.toml", "[[avatar]]\nname = " + "[" * 2000 + "]" * 2000 + "\n"),
    ("deep2.toml", "avatar = " + "[" * 1200 + "]" * 1200 + "\n"),
])
def test_deep_nesting_is_a_spec_error(tmp_path, name, text):
    with pytest.raises(SpecError) as exc:
        load_spec(_spec(tmp_path, text, name))
    assert str(tmp_path / name) in exc.value.problems[0]


def test_special_large_and_undecodable_files(tmp_path):
    for path, words in ((tmp_path, "not a regular file"), ("/dev/zero", "not a regular file")):
        with pytest.raises(SpecError, match=words):
            load_spec(path)
    big = tmp_path / "big.toml"
    with open(big, "wb") as f:
        f.truncate(MAX_SPEC_BYTES + 10)
    with pytest.raises(SpecError, match="larger than the 64 MiB"):
        load_spec(big)
    with pytest.raises(SpecError, match=r"not UTF-8 text \(byte 19\)"):
        load_spec(_spec(tmp_path, b'[[avatar]]\nname = "\xff\xfe"\n'))


def test_names_must_match_entirely_and_long_values_are_shortened(tmp_path):
    entries = [{"name": "a\n", "sex": "male", "age_years": 30, "height_cm": 180, "weight_kg": 80},
               {"name": "x" * 1_048_576, "sex": "male", "age_years": 30, "height_cm": 180, "weight_kg": 80},
               {"name": "b", "sex": "m" * 100_000, "age_years": 30, "height_cm": 180, "weight_kg": 80,
                "k" * 5000: 1}]
    ok, bad = load_spec(_spec(tmp_path, json.dumps({"avatar": entries}), "s.json"))
    assert not ok and len(bad) == 3
    text = "\n".join(p for _, problems in bad for p in problems)
    assert "field 'name' = 'a\\n' must match" in text
    assert "(1,048,576 characters)" in text and "(100,000 characters)" in text and "(5,000 characters)" in text
    assert len(text) < 3000
    assert "0-2147483647" in load_spec_problems(tmp_path, "seed = -1")


def load_spec_problems(tmp_path, line: str) -> str:
    _, bad = load_spec(_spec(tmp_path, GOOD + line + "\n", "one.toml"))
    return "\n".join(bad[0][1])


def test_duplicate_and_invalid_namesakes_get_their_own_keys(tmp_path):
    text = GOOD.replace('"ok"', '"dup"') + GOOD.replace('"ok"', '"dup"').replace("30", "-1")
    text += GOOD.replace('"ok"', '"dup"')
    ok, bad = load_spec(_spec(tmp_path, text))
    assert [r.name for r in ok] == ["dup"]
    assert [k for k, _ in bad] == ["dup (entry #2)", "dup (entry #3)"]
    assert "age_years" in bad[0][1][0] and "duplicate name" in bad[1][1][0]


def test_three_thousand_generated_hostile_specs(tmp_path):
    from support.spec_fuzz import run

    result = run(3000, seed=20261202, folder=tmp_path)
    assert result["failures"] == 0, result["first_failures"]
    # the generator reaches every path: files refused as a whole, valid and invalid entries
    assert result["refused_as_file"] > 100 and result["entries_valid"] > 2000 and result["entries_invalid"] > 2000
