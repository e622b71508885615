"""``make addon``: the Blender extension zip in ``dist/``, built and validated with Blender's own tool.

Staging (``dist/build/avatar_pipeline``): the ``addon/`` sources and ``wheels/`` with this project's wheel (the
``pipeline`` and ``models`` packages with the body data and the shipped weights, found by
``pipeline.core.resources``) and the pure-Python dependencies Blender lacks (threadpoolctl); Blender brings numpy,
and torch stays outside (see ``addon/preferences.py``). The manifest gets the wheels' names, then
``blender_ext.py build --valid-tags`` (shipped in the bpy wheel) validates it, tags included, and zips it.

Usage: ``python tests/support/extension_build.py [--out dist]`` (``make addon``); prints the zip's path.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXTENSION_ID = "avatar_pipeline"
BUNDLED = ("threadpoolctl",)  # pure-Python dependencies the add-on's code needs in Blender's Python


def blender_tools() -> tuple[Path, Path]:
    """(blender_ext.py, tags.py) from the installed bpy module (standard library only, no Blender needed)."""
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the bpy module is not installed: run `make install`")
    base = Path(next(iter(spec.submodule_search_locations)))
    version = next(p.name for p in base.iterdir() if re.fullmatch(r"\d+\.\d+", p.name))
    scripts = base / version / "scripts"
    return (scripts / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py",
            scripts / "modules" / "_bpy_internal" / "extensions" / "tags.py")


def stage(out: Path) -> Path:
    """The extension's source folder, ready for ``blender_ext.py build``."""
    src = out / "build" / EXTENSION_ID
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(ROOT / "addon", src, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    wheels = src / "wheels"
    # this project's wheel, and the pure-Python dependencies Blender lacks, at the versions installed here
    extra = [f"{name}=={importlib.metadata.version(name)}" for name in BUNDLED]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheels), str(ROOT), *extra], check=True,
                   env={**os.environ, "PYTHONWARNINGS": "ignore"})
    # setuptools leaves build/ and *.egg-info behind in the project: not ours to keep
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    listed = ", ".join(f'"./wheels/{w.name}"' for w in sorted(wheels.glob("*.whl")))
    manifest = src / "blender_manifest.toml"
    text = manifest.read_text()
    text = re.sub(r"(?m)^# wheels = .*$", f"wheels = [{listed}]", text)
    if f"wheels = [{listed}]" not in text or len(listed.split(",")) != 1 + len(BUNDLED):
        raise RuntimeError("blender_manifest.toml lacks the '# wheels = ...' line make addon fills in")
    manifest.write_text(text)
    return src


def build(out: Path) -> Path:
    """Stage, validate (tags checked like Blender does) and zip. Returns the zip's path."""
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    src = stage(out)
    tool, tags = blender_tools()
    subprocess.run([sys.executable, str(tool), "validate", str(src)], check=True)
    subprocess.run([sys.executable, str(tool), "build", "--source-dir", str(src), "--output-dir", str(out),
                    "--valid-tags", str(tags)], check=True)
    version = re.search(r'(?m)^version = "([^"]+)"', (src / "blender_manifest.toml").read_text())
    zip_path = out / f"{EXTENSION_ID}-{version.group(1) if version else '0'}.zip"
    if not zip_path.exists():
        raise RuntimeError(f"blender_ext.py did not write {zip_path}")
    return zip_path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "dist")
    print(build(ap.parse_args().out))


if __name__ == "__main__":
    main()
