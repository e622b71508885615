"""The client tier: every export preset of every rig loaded by loaders nobody here wrote (three.js's GLTFLoader in
Node, Assimp, ufbx, usd-core). ``make test`` installs them (``make clients``); the versions are listed at the end of
the run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support.clients.exports import CLIENTS, ROOT, SPEC, VARIANTS, VERSIONS

from pipeline.jobs.batch import generate
from pipeline.jobs.options import GenerateOptions


@pytest.fixture(scope="session")
def exports(tmp_path_factory) -> dict[str, Path]:
    """label -> the avatar folder with ana.glb, ana.unity.fbx, ana.unreal.fbx, ana.usdc (+ textures/)."""
    base = tmp_path_factory.mktemp("clients")
    spec = base / "ana.toml"
    spec.write_text(SPEC)
    out = {}
    for label, (rig, names) in VARIANTS.items():
        manifest, code = generate(spec, GenerateOptions(out=base / label, rig=rig, names=names, preview=False,
                                                        texture_size=256, formats=("glb", "fbx-unity", "fbx-unreal",
                                                                                   "usd"), echo=lambda s: None))
        assert code == 0, manifest
        out[label] = base / label / "ana"
    return out


@pytest.fixture(scope="session")
def node_clients() -> Path:
    """The folder holding three.js and node-three-gltf, with the probe script beside its node_modules (ES modules
    resolve packages from the script's own folder)."""
    assert (CLIENTS / "node_modules" / "node-three-gltf").is_dir(), "run `make clients`"
    probe = CLIENTS / "threejs_probe.mjs"
    shutil.copyfile(ROOT / "tests" / "support" / "clients" / "threejs_probe.mjs", probe)
    return probe


def pytest_terminal_summary(terminalreporter) -> None:
    if VERSIONS:
        terminalreporter.write_line("client loaders: " + ", ".join(f"{k} {v}" for k, v in sorted(VERSIONS.items())))
