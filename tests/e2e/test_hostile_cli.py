"""About 30 of the nastiest spec files through the real CLI (``avatar generate --formats glb --no-preview``): no
traceback, the exit code the contract gives (2 for a file refused as a whole, 1 when some avatar failed, 0 when
all were made), and every valid entry made."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from support.spec_fuzz import make_file

from pipeline.core.spec import SpecError, load_spec

GOOD = 'sex = "male"\nage_years = 40\nheight_cm = 180\nweight_kg = 80\n'
HAND_MADE = {
    "deep.json": '{"avatar": [' + "[" * 100_000 + "]" * 100_000 + "]}",
    "deep.toml": "avatar = " + "[" * 1200 + "]" * 1200 + "\n",
    "huge_seed.toml": f'[[avatar]]\nname = "ok"\n{GOOD}[[avatar]]\nname = "big"\n{GOOD}seed = 1{"0" * 5000}\n',
    "overflow.toml": f'[[avatar]]\nname = "ok"\n{GOOD}[[avatar]]\nname = "w"\n{GOOD.replace("80", "1" + "0" * 400)}',
    "too_long_int.json": '{"avatar": [{"name": "a", "seed": 1' + "0" * 100_001 + "}]}",
    "dup.toml": f'[[avatar]]\nname = "dup"\n{GOOD}[[avatar]]\nname = "dup"\n{GOOD.replace("40", "-1")}',
    "newline.json": json.dumps({"avatar": [{"name": "a\n", **{k: 1 for k in ("sex",)}}, {"name": "ok", "sex": "male",
                                "age_years": 40, "height_cm": 180, "weight_kg": 80}]}),
    "long_name.json": json.dumps({"avatar": [{"name": "x" * 1_000_000, "sex": "male"}]}),
    "not_utf8.toml": b'[[avatar]]\nname = "\xff"\n',
    "empty.toml": "",
    "binary.toml": bytes(range(256)) * 4,
}


def _files(folder: Path) -> list[Path]:
    rng = random.Random(20261202)
    paths = []
    for name, text in HAND_MADE.items():
        p = folder / name
        (p.write_bytes if isinstance(text, bytes) else p.write_text)(text)
        paths.append(p)
    while len(paths) < 30:
        data, kind, valid = make_file(rng)
        if len(valid) <= 2:  # each valid avatar is really made: keep the suite quick
            p = folder / f"fuzz_{len(paths)}.{kind}"
            p.write_bytes(data)
            paths.append(p)
    paths.append(Path("/dev/zero"))
    return paths


def test_thirty_nasty_files_through_the_cli(tmp_path):
    files = _files(tmp_path)
    env = dict(os.environ, PYOPENGL_PLATFORM="egl")

    def run(i_path):
        i, path = i_path
        out = tmp_path / f"out_{i}"
        proc = subprocess.run([sys.executable, "-m", "pipeline", "generate", "--spec", str(path), "--out", str(out),
                               "--formats", "glb", "--no-preview"], capture_output=True, text=True, env=env,
                              timeout=600)
        return path, out, proc

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(run, enumerate(files)))
    made = 0
    for path, out, proc in results:
        assert "Traceback" not in proc.stderr, (path, proc.stderr[-2000:])
        try:
            ok, bad = load_spec(path)
        except SpecError:
            assert proc.returncode == 2 and proc.stderr.strip(), (path, proc.stderr[-500:])
            assert all(len(line) < 1000 for line in proc.stderr.splitlines())
            continue
        assert proc.returncode == (1 if bad else 0), (path, proc.returncode, proc.stderr[-1000:])
        manifest = json.loads((out / "manifest.json").read_text())
        for r in ok:
            assert manifest["avatars"][r.name]["status"] == "done" and (out / r.name / f"{r.name}.glb").is_file()
            made += 1
        assert {k for k, v in manifest["avatars"].items() if v["status"] == "failed"} == {k for k, _ in bad}
    assert len(results) >= 30 and made >= 5
