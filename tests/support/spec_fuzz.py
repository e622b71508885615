"""Seeded generator of hostile spec files, and the checks every one of them must pass through spec loading.

Each file mixes valid entries (names ``ok_<i>``, always accepted) with hostile ones: fields set to huge, non-finite,
wrongly typed, long or nested values, unknown and very long keys, missing fields, non-table entries, duplicate
names after the valid ones; some files are hostile as a whole (deep nesting, integers beyond 100,000 digits,
bad UTF-8, wrong top level, random bytes). Written as TOML or JSON text by hand, so values no serializer would
write (``1e400``, 5,000-digit integers, ``NaN``) get through.

``python tests/support/spec_fuzz.py --n 10000 --seed 1`` prints the counts of a run.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from pipeline.core.spec import SpecError, load_spec

VALID = {"sex": "female", "age_years": 30, "height_cm": 165.0, "weight_kg": 60.0}
FIELD_NAMES = ("name", "sex", "age_years", "height_cm", "weight_kg", "chest_cm", "waist_cm", "hips_cm", "inseam_cm",
               "muscle", "proportions", "skin_ita", "fitzpatrick", "style", "comic_style", "seed")


class Raw(str):
    """Text written into the file as it is (a number no serializer would write)."""


HOSTILE: tuple[Any, ...] = (
    Raw("1" + "0" * 309), Raw("-1" + "0" * 400), Raw("1e400"), Raw("-1e400"), Raw("1" + "0" * 5000), Raw("nan"),
    Raw("inf"), Raw("-inf"), Raw("9" * 20_000), 2**31, 2**63, -(2**63), 0, -1, 1.5, 1e-320, 1e308, True, False,
    "", "a\n", "../x", "x" * 100_000, "34", "female\x00", "é" * 70, [], [1, 2], [[[[1]]]], {}, {"a": 1},
    {"name": "ok_0"},
)
PROBLEM = re.compile(r"field|must be a table|duplicate name")


def _toml_string(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def to_toml_value(v: Any) -> str:
    if isinstance(v, Raw):
        return str(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return _toml_string(v)
    if isinstance(v, list):
        return "[" + ", ".join(to_toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{_toml_string(k)} = {to_toml_value(x)}" for k, x in v.items()) + "}"


def to_json_value(v: Any) -> str:
    if isinstance(v, Raw):
        return {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}.get(str(v), str(v))
    if isinstance(v, list):
        return "[" + ", ".join(to_json_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {to_json_value(x)}" for k, x in v.items()) + "}"
    return json.dumps(v)


def render(entries: list[Any], kind: str) -> str:
    """Spec text with these entries (a list of tables, or anything for hostile entries) in TOML or JSON."""
    if kind == "json":
        return '{"avatar": [' + ", ".join(to_json_value(e) for e in entries) + "]}"
    if all(isinstance(e, dict) for e in entries):
        return "".join("[[avatar]]\n" + "".join(f"{_toml_string(k)} = {to_toml_value(v)}\n" for k, v in e.items())
                       + "\n" for e in entries)
    return "avatar = " + to_toml_value(entries) + "\n"


def whole_file(rng: random.Random, kind: str) -> bytes:
    """A file hostile as a whole."""
    choice = rng.randrange(6)
    if choice == 0:
        depth = rng.choice((50, 1200, 100_000))
        return ("{" + '"avatar": ' + "[" * depth + "]" * depth + "}").encode() if kind == "json" else \
            ("avatar = " + "[" * depth + "]" * depth + "\n").encode()
    if choice == 1:
        return b'[[avatar]]\nname = "\xff\xfe"\n'
    if choice == 2:
        return render([{**VALID, "name": "n", "seed": Raw("9" * rng.choice((100_001, 300_000)))}], kind).encode()
    if choice == 3:
        return (b"[]" if kind == "json" else b"avatar = 3\n")
    if choice == 4:
        return render([], kind).encode() + (b"" if kind == "json" else b'title = "x"\n')
    return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))


def make_file(rng: random.Random) -> tuple[bytes, str, list[str]]:
    """(file bytes, suffix, names of the valid entries that must be accepted)."""
    kind = rng.choice(("toml", "json"))
    if rng.random() < 0.1:
        return whole_file(rng, kind), kind, []
    entries: list[Any] = []
    valid: list[str] = []
    for i in range(rng.randrange(1, 7)):
        if rng.random() < 0.4:
            entries.append({"name": f"ok_{i}", **VALID, "seed": rng.randrange(2**31)})
            valid.append(f"ok_{i}")
            continue
        r = rng.random()
        if r < 0.08:
            entries.append(rng.choice((1, "x", [1], Raw("1e400"), [])))
            continue
        e: dict[str, Any] = {"name": f"bad_{i}", **VALID}
        for _ in range(rng.randrange(1, 4)):
            key = rng.choice(FIELD_NAMES) if rng.random() < 0.8 else rng.choice(("k" * 5000, "hieght_cm", "",
                                                                                 "name\n", "\x00"))
            if rng.random() < 0.1:
                e.pop(key, None)
            else:
                e[key] = rng.choice(HOSTILE)
        entries.append(e)
    if valid and rng.random() < 0.2:  # a namesake after the valid entry: its failure must not hide
        entries.append({"name": valid[0], **VALID, "age_years": -1})
    return render(entries, kind).encode("utf-8", "surrogatepass"), kind, valid


def check(path: Path, valid: list[str]) -> str | None:
    """None when spec loading behaved, else what went wrong."""
    try:
        ok, bad = load_spec(path)
    except SpecError as exc:
        lines = exc.problems
        if not lines or not all(line.startswith("spec ") and len(line) < 1000 for line in lines):
            return f"file-level refusal without the file named: {lines[:1]}"
        return None if not valid else f"a file with valid entries {valid} was refused: {lines[:1]}"
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    names = [r.name for r in ok]
    if [n for n in names if n in valid] != valid or len(set(names)) != len(names):
        return f"valid entries {valid} not all accepted: {names}"
    keys = names + [k for k, _ in bad]
    if len(set(keys)) != len(keys):
        return f"keys not unique: {keys}"
    for _, problems in bad:
        for line in problems:
            if not PROBLEM.search(line) or len(line) > 600:
                return f"problem line without a field, or too long: {line[:200]}"
    return None


def run(n: int, seed: int, folder: Path) -> dict[str, Any]:
    """Generate and check n files; returns counts and the first failures."""
    rng = random.Random(seed)
    counts = {"files": 0, "refused_as_file": 0, "entries_valid": 0, "entries_invalid": 0, "failures": 0}
    failures: list[str] = []
    t = time.perf_counter()
    for i in range(n):
        data, kind, valid = make_file(rng)
        path = folder / f"spec.{kind}"
        path.write_bytes(data)
        problem = check(path, valid)
        counts["files"] += 1
        if problem:
            counts["failures"] += 1
            failures.append(f"file {i}: {problem}")
            continue
        try:
            ok, bad = load_spec(path)
            counts["entries_valid"] += len(ok)
            counts["entries_invalid"] += len(bad)
        except SpecError:
            counts["refused_as_file"] += 1
    return {**counts, "seconds": round(time.perf_counter() - t, 1), "first_failures": failures[:10]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(run(args.n, args.seed, Path(tmp)), indent=1))


if __name__ == "__main__":
    main()
