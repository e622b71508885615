"""End to end: `avatar generate` / `python -m pipeline` on specs, `avatar sample`, `avatar measure`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support.gltf_validation import summarize, validate_glb

from pipeline.core.deviations import style_warnings
from pipeline.core.fields import FIELDS
from pipeline.core.files import sha256_file
from pipeline.core.population import sample_people, to_toml
from pipeline.core.spec import load_spec
from pipeline.formats.glb_read import measure_glb, template_vertices
from pipeline.jobs.batch import generate
from pipeline.jobs.options import GenerateOptions

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "avatars.toml"


def run_cli(*args, timeout=600):
    env = dict(os.environ, PYOPENGL_PLATFORM="egl")
    return subprocess.run([sys.executable, "-m", "pipeline", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    manifest, code = generate(EXAMPLE, GenerateOptions(out=out, echo=lambda s: None))
    return out, manifest, code


def test_example_spec_layout_measurements_and_validator(example_run):
    out, manifest, code = example_run
    requests, failures = load_spec(EXAMPLE)
    assert code == 0 and not failures and len(requests) >= 8
    assert (out / "contact_sheet.png").stat().st_size > 10_000
    assert json.loads((out / "manifest.json").read_text())["avatars"].keys() == {r.name for r in requests}
    glbs = []
    for r in requests:
        d = out / r.name
        files = manifest["avatars"][r.name]["files"]
        for f in (f"{r.name}.glb", "preview.png", "preview_side.png", "preview_poses.png", "avatar.json"):
            assert files[f]["sha256"] == sha256_file(d / f)
        meta = json.loads((d / "avatar.json").read_text())
        assert meta["request"]["name"] == r.name and meta["seed"] == r.seed
        m = meta["measurements"]
        if not meta["warnings"]:
            assert abs(m["stature_cm"] - r.height_cm) <= 0.2
            assert abs(m["mass_kg"] - r.weight_kg) <= 0.01 * r.weight_kg
            for k in ("chest_cm", "waist_cm", "hips_cm"):
                if getattr(r, k) is not None:
                    assert abs(m[k] - getattr(r, k)) <= 0.5
        glbs.append(d / f"{r.name}.glb")
    assert not list(out.rglob("*.tmp"))
    for path, rep in validate_glb(glbs).items():
        s = summarize(rep)
        assert s["errors"] == 0 and s["warnings"] == 0, (path, s)  # the numpy writer's GLB (see README)


def test_measure_reads_back_what_generate_wrote(example_run):
    out, _, _ = example_run
    meta = json.loads((out / "ana" / "avatar.json").read_text())
    got = measure_glb(out / "ana" / "ana.glb")
    for k, v in meta["measurements"].items():
        assert abs(got[k] - v) <= 0.02, k
    proc = run_cli("measure", out / "ana" / "ana.glb")
    assert proc.returncode == 0 and json.loads(proc.stdout)["stature_cm"] == got["stature_cm"]


def test_same_spec_and_seed_same_geometry(tmp_path, example_run):
    out, _, _ = example_run
    spec = tmp_path / "ana.toml"
    ana = next(r for r in load_spec(EXAMPLE)[0] if r.name == "ana")
    spec.write_text("[[avatar]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in ana.as_dict().items()))
    for run in ("o1", "o2"):
        generate(spec, GenerateOptions(out=tmp_path / run, preview=False, echo=lambda s: None))
    # the same spec run twice: the same bytes
    assert (tmp_path / "o1" / "ana" / "ana.glb").read_bytes() == (tmp_path / "o2" / "ana" / "ana.glb").read_bytes()
    # alone or in a batch of nine: the same geometry (float32 rounding differs with the batch size)
    alone = template_vertices(tmp_path / "o1" / "ana" / "ana.glb")
    batched = template_vertices(out / "ana" / "ana.glb")
    assert np.abs(alone - batched).max() < 2e-5


def test_implausible_request_is_a_warning_with_the_deviation(tmp_path):
    spec = tmp_path / "odd.toml"
    spec.write_text('[[avatar]]\nname = "odd"\nsex = "male"\nage_years = 40\nheight_cm = 120\nweight_kg = 150\n')
    _, code = generate(spec, GenerateOptions(out=tmp_path / "o", preview=False, echo=lambda s: None))
    assert code == 0
    w = json.loads((tmp_path / "o" / "odd" / "avatar.json").read_text())["warnings"]
    assert w and any("deviation" in x["message"] and x["field"] in ("height_cm", "weight_kg") for x in w)
    for x in w:  # structured: what was asked, what was made, in which unit
        assert set(x) == {"field", "requested", "achieved", "unit", "message"}, x
        f = FIELDS[x["field"]]
        assert x["unit"] == f.unit and abs(x["achieved"] - x["requested"]) > f.tolerance_for(x["requested"])
    assert json.loads((tmp_path / "o" / "manifest.json").read_text())["avatars"]["odd"]["warnings"] == w


def test_a_shipped_comic_style_is_used_and_a_missing_one_is_a_warning(tmp_path):
    spec = tmp_path / "comic.toml"
    spec.write_text('[[avatar]]\nname = "toon"\nsex = "female"\nage_years = 30\nheight_cm = 165\nweight_kg = 60\n'
                    'style = "comic"\ncomic_style = "halftone"\n')
    manifest, code = generate(spec, GenerateOptions(out=tmp_path / "o", preview=False, echo=lambda s: None))
    assert code == 0 and manifest["avatars"]["toon"]["status"] == "done"
    assert json.loads((tmp_path / "o" / "toon" / "avatar.json").read_text())["warnings"] == []
    assert b'"name":"toon_comic"' in (tmp_path / "o" / "toon" / "toon.glb").read_bytes()
    # where no style is installed, the avatar is realistic and says so
    w = {x["field"]: x for x in style_warnings("toon", "comic", "ink", ())}
    assert w["style"]["requested"] == "comic" and w["style"]["achieved"] == "realistic"
    assert "none is installed" in w["style"]["message"]
    assert w["comic_style"]["requested"] == "ink" and "it has no effect" in w["comic_style"]["message"]


def test_cli_exit_codes(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text('[[avatar]]\nname = "a"\nsex = "male"\nage_years = 30\nheight_cm = 180\nweight_kg = 80\n')
    proc = run_cli("generate", "--spec", good, "--out", tmp_path / "g", "--no-preview")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "g" / "a" / "a.glb").exists()

    mixed = tmp_path / "mixed.toml"
    mixed.write_text(good.read_text() + '[[avatar]]\nname = "b"\nsex = "male"\nage_years = 300\nheight_cm = 180\n'
                     "weight_kg = 80\n")
    proc = run_cli("generate", "--spec", mixed, "--out", tmp_path / "m", "--no-preview")
    assert proc.returncode == 1
    assert "avatar 'b': field 'age_years' = 300 is outside the allowed range 0.5-90 years" in proc.stderr
    assert (tmp_path / "m" / "a" / "a.glb").exists()
    m = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert m["avatars"]["a"]["status"] == "done" and m["avatars"]["b"]["status"] == "failed"

    proc = run_cli("generate", "--spec", tmp_path / "missing.toml", "--out", tmp_path / "x")
    assert proc.returncode == 2 and "cannot read" in proc.stderr
    proc = run_cli("generate", "--spec", good, "--out", tmp_path / "x", "--formats", "glb,obj")
    assert proc.returncode == 2 and "obj" in proc.stderr
    proc = run_cli("generate", "--spec", good, "--out", tmp_path / "x", "--preview-engine", "povray")
    assert proc.returncode == 2 and "--preview-engine 'povray': allowed pyrender, eevee, cycles" in proc.stderr
    proc = run_cli("generate", "--spec", good, "--out", tmp_path / "x", "--texture-size", "300")
    assert proc.returncode == 2 and "--texture-size 300: allowed 256, 512, 1024, 2048" in proc.stderr


def test_cycles_previews_and_usd_textures_are_recorded(tmp_path):
    spec = tmp_path / "one.toml"
    spec.write_text('[[avatar]]\nname = "a"\nsex = "female"\nage_years = 30\nheight_cm = 165\nweight_kg = 60\n'
                    "fitzpatrick = 5\n")
    formats = ("glb", "usd", "fbx-unity", "fbx-unreal")
    manifest, code = generate(spec, GenerateOptions(out=tmp_path / "o", formats=formats, texture_size=256,
                                                    preview_engine="cycles", echo=lambda s: None))
    assert code == 0, manifest
    files = manifest["avatars"]["a"]["files"]
    # Blender previews: front and side (the pose sheet is pyrender's); USD's maps beside the stage and the roughness
    # packed for Unreal (ORM, the normals DirectX-style) and Unity (mask map) beside the FBX files, all checksummed
    maps = {f"textures/a_{m}.png" for m in ("albedo", "normal", "roughness", "ORM", "NormalDX", "MaskMap")}
    assert {"preview.png", "preview_side.png", "a.usdc", "a.glb", "a.unity.fbx", "a.unreal.fbx"} | maps <= set(files)
    assert "preview_poses.png" not in files
    folder = tmp_path / "o" / "a"
    from PIL import Image

    rough = np.asarray(Image.open(folder / "textures" / "a_roughness.png").convert("L"))
    orm = np.asarray(Image.open(folder / "textures" / "a_ORM.png"))
    mask = np.asarray(Image.open(folder / "textures" / "a_MaskMap.png"))
    assert orm.shape == (256, 256, 3) and (orm[..., 1] == rough).all() and rough.std() > 1.0
    assert mask.shape == (256, 256, 4) and (mask[..., 3] == 255 - rough).all()
    normal = np.asarray(Image.open(folder / "textures" / "a_normal.png").convert("RGB")).astype(int)
    dx = np.asarray(Image.open(folder / "textures" / "a_NormalDX.png")).astype(int)
    assert dx.shape == (256, 256, 3) and (dx[..., 1] == 255 - normal[..., 1]).all() and normal[..., 1].std() > 1.0
    for name, info in files.items():
        assert sha256_file(folder / name) == info["sha256"], name
    assert (tmp_path / "o" / "contact_sheet.png").exists()


def test_sample_writes_a_valid_realistic_population(tmp_path):
    proc = run_cli("sample", "--n", 40, "--seed", 3, "--out", tmp_path / "p.toml")
    assert proc.returncode == 0, proc.stderr
    ok, bad = load_spec(tmp_path / "p.toml")
    assert len(ok) == 40 and not bad
    people = sample_people(4000, seed=1)
    assert to_toml(people[:2]).count("[[avatar]]") == 2
    assert sample_people(50, 9) == sample_people(50, 9)
    adults_m = np.array([p["height_cm"] for p in people if p["age_years"] >= 20 and p["sex"] == "male"])
    adults_f = np.array([p["height_cm"] for p in people if p["age_years"] >= 20 and p["sex"] == "female"])
    assert 172 < adults_m.mean() < 178 and 158 < adults_f.mean() < 164
    bmi = np.array([p["weight_kg"] / (p["height_cm"] / 100) ** 2 for p in people if p["age_years"] >= 20])
    assert 25 < np.median(bmi) < 31
    ages = np.array([p["age_years"] for p in people])
    assert ages.min() >= 0.5 and ages.max() <= 90
