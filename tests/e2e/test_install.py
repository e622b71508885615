"""The package as users install it: ``pip install`` (not editable) into a fresh environment, then ``avatar generate``
from a folder outside the checkout finds the body data and the weights inside the installed package."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _source_copy(dest: Path) -> Path:
    """What ``pip install .`` reads: the project file, README, the packages, the body data and the spectra (not
    tests, .git)."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for pkg in ("pipeline", "models"):
        shutil.copytree(ROOT / pkg, dest / pkg, ignore=ignore)
    shutil.copytree(ROOT / "assets" / "body", dest / "assets" / "body", ignore=shutil.ignore_patterns("population.npz"))
    shutil.copytree(ROOT / "assets" / "spectra", dest / "assets" / "spectra")
    return dest


def test_pip_install_then_generate_from_another_folder(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # reuse this environment's packages (bpy, torch, numpy ...) through plain path lines: .pth files in them,
    # such as the editable install of this checkout, are not processed, so only the installed copy is importable
    site.joinpath("project_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    src = _source_copy(tmp_path / "src")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AVATAR_BODY_ASSETS", "AVATAR_WEIGHTS_DIR")}
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                           "--no-build-isolation", str(src)], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    shutil.rmtree(src)  # the installed package must not need its source

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run([python, "-c", "import pipeline, models; from pipeline.core import resources as r; "
                            "print(pipeline.__file__, models.__file__, r.body_data_dir(), r.checkout_root())"],
                           capture_output=True, text=True, cwd=elsewhere, env=env, timeout=120)
    assert where.returncode == 0, where.stderr
    pipeline_file, models_file, body_dir, checkout = where.stdout.split()
    for p in (pipeline_file, models_file, body_dir):
        assert Path(p).is_relative_to(venv), where.stdout
    assert checkout == "None"

    spec = elsewhere / "one.toml"
    spec.write_text('[[avatar]]\nname = "ana"\nsex = "female"\nage_years = 34\nheight_cm = 168\nweight_kg = 61\n')
    proc = subprocess.run([venv / "bin" / "avatar", "generate", "--spec", "one.toml", "--out", "out", "--no-preview"],
                          capture_output=True, text=True, cwd=elsewhere, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = json.loads((elsewhere / "out" / "manifest.json").read_text())
    assert manifest["avatars"]["ana"]["status"] == "done"
    assert abs(manifest["avatars"]["ana"]["measurements"]["stature_cm"] - 168.0) <= 0.2
    assert (elsewhere / "out" / "ana" / "ana.glb").stat().st_size > 100_000
