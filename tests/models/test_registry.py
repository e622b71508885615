"""The model registry drives `avatar models`, `avatar train`, `avatar evaluate` and `make train`; checkpoints refuse
weights made for other body data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from models.common.checkpoint import CheckpointError
from models.common.registry import REGISTRY, get
from models.decoder.model import NAME, AvatarDecoder
from pipeline.core.resources import body_data_sha256, weights_dir

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "pipeline", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, PYOPENGL_PLATFORM="egl"))


def test_every_entry_resolves_and_names_its_weights_folder():
    assert "decoder" in REGISTRY
    for name, entry in REGISTRY.items():
        assert entry.name == name and entry.max_minutes > 0
        config = entry.resolve("config")()
        assert {"minutes", "seed"} <= set(vars(config))
        for what in ("train", "evaluate", "load"):
            assert callable(entry.resolve(what))
        folder = weights_dir(name)
        configs = [folder / "config.json"] if name != "comic" else sorted(folder.glob("*/config.json"))
        assert configs and all(p.is_file() for p in configs)
    with pytest.raises(ValueError, match="unknown model 'nosuch'; models: decoder, texture"):
        get("nosuch")
    make = subprocess.run(["make", "-n", "train", "MODEL=decoder"], capture_output=True, text=True, cwd=ROOT)
    assert "pipeline train decoder --out models/weights/decoder" in make.stdout
    listed = subprocess.run([sys.executable, "-m", "models.common.registry"], capture_output=True, text=True)
    assert listed.stdout.split() == list(REGISTRY)


def test_cli_models_evaluate_and_unknown_names():
    proc = _cli("models")
    assert proc.returncode == 0 and proc.stdout.split("\t")[0] == "decoder"
    proc = _cli("evaluate", "decoder", "--n", 8)
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if "decoder" in line and "ridge" in line]
    assert len(rows) == 4 and all("mean body" in r for r in rows)  # the baselines, printed in the same run
    proc = _cli("train", "nosuch", "--out", "x")
    assert proc.returncode == 2 and "unknown model 'nosuch'" in proc.stderr
    proc = _cli("train", "decoder", "--out", "x", "--data", ".")
    assert proc.returncode == 2 and "does not fine-tune on a data folder" in proc.stderr
    proc = _cli("train", "decoder", "--out", "x", "--minutes", 500)
    assert proc.returncode == 2 and "--minutes = 500.0 is outside the allowed range" in proc.stderr


def test_a_fresh_heldout_seed_must_not_be_a_training_seed():
    proc = _cli("evaluate", "decoder", "--seed", 20261125, "--n", 5)
    assert proc.returncode == 2 and "drew the training bodies" in proc.stderr


def test_weights_for_other_body_data_are_refused(tmp_path):
    folder = tmp_path / NAME
    shutil.copytree(weights_dir(NAME), folder)
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["body_asset_sha256"] == body_data_sha256()
    AvatarDecoder.load(folder)
    cfg["body_asset_sha256"] = "0" * 64
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="trained on body data 000000000000"):
        AvatarDecoder.load(folder)
    cfg["surprise"] = 1
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="unknown config keys surprise"):
        AvatarDecoder.load(folder)


def test_changed_or_non_finite_weights_are_refused(tmp_path):
    import hashlib

    import torch
    from safetensors.torch import load_file, save_file

    folder = tmp_path / NAME
    shutil.copytree(weights_dir(NAME), folder)
    weights = folder / f"{NAME}.safetensors"
    state = load_file(str(weights))
    key = next(iter(state))
    save_file({**state, key: state[key] * 2}, str(weights))  # scaled: loads fine as tensors, but not what was judged
    with pytest.raises(CheckpointError, match="changed after training"):
        AvatarDecoder.load(folder)
    state[key] = torch.full_like(state[key], float("nan"))
    save_file(state, str(weights))
    cfg = json.loads((folder / "config.json").read_text())
    cfg["weights_sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()  # a config edited to match
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=f"non-finite values in {key}"):
        AvatarDecoder.load(folder)
