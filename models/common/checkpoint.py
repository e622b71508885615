"""Checkpoints: weights as safetensors (never pickles) beside a JSON config that records the body data they belong to.

``<folder>/<stem>.safetensors`` holds the tensors; ``<folder>/config.json`` the model's dataclass config plus
``body_asset_sha256``, the checksum of the body space (``body.npz``) the model was trained on, and
``weights_sha256``, the checksum of the weights file. Loading checks both (a model trained for another body space
would produce coefficients of different bodies; edited weights are not the ones that were evaluated) and that
every tensor is finite, and refuses with the checksums named.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors.torch import load_file, save

from pipeline.core.files import atomic_write_bytes, atomic_write_json, sha256_file
from pipeline.core.resources import body_data_sha256

C = TypeVar("C")
CHECKSUM_KEY = "body_asset_sha256"
WEIGHTS_KEY = "weights_sha256"


class CheckpointError(ValueError):
    """Weights that are missing, malformed or made for other body data."""


def save_checkpoint(folder: Path, stem: str, module: torch.nn.Module, config: Any,
                    extra: dict[str, Any] | None = None, half: bool = False) -> Path:
    """Write ``<stem>.safetensors`` (float32 state dict, or float16 with ``half``) and ``config.json`` atomically.
    Returns the weights path."""
    folder = Path(folder)
    dtype = torch.float16 if half else torch.float32
    tensors = {k: v.detach().contiguous().to(dtype) for k, v in module.state_dict().items()}
    data = save(tensors)
    path = atomic_write_bytes(folder / f"{stem}.safetensors", data)
    atomic_write_json(folder / "config.json", {**dataclasses.asdict(config), CHECKSUM_KEY: body_data_sha256(),
                                               WEIGHTS_KEY: hashlib.sha256(data).hexdigest(), **(extra or {})})
    return path


def _coerce(cls: type, raw: dict[str, Any]) -> dict[str, Any]:
    """JSON values -> the dataclass's field types (lists back to tuples)."""
    hints = typing.get_type_hints(cls)
    return {k: tuple(v) if isinstance(v, list) and "tuple" in str(hints.get(k, "")) else v for k, v in raw.items()}


def load_checkpoint(folder: Path, stem: str, config_cls: type[C], check_body: bool = True,
                    extra_keys: tuple[str, ...] = (), absent: dict[str, Any] | None = None
                    ) -> tuple[C, dict[str, torch.Tensor]]:
    """Read a checkpoint written by ``save_checkpoint``. ``absent``: config fields added after weights were saved
    without them, with the value they had in those weights (used where config.json does not name them, instead of
    the class's default).

    Returns:
        (config, state dict). Raises CheckpointError when files are missing, the config has keys the config class
        lacks (other than ``extra_keys``, recorded beside it), or (``check_body``) the weights were trained on
        other body data than this process loads.
    """
    folder = Path(folder)
    weights, cfg_path = folder / f"{stem}.safetensors", folder / "config.json"
    for p in (weights, cfg_path):
        if not p.is_file():
            raise CheckpointError(f"{p} is missing; retrain with `make train MODEL={stem}`")
    raw = json.loads(cfg_path.read_text())
    recorded = raw.get(CHECKSUM_KEY)
    known = {f.name for f in dataclasses.fields(config_cls)}  # type: ignore[arg-type]
    unknown = sorted(set(raw) - known - {CHECKSUM_KEY, WEIGHTS_KEY, "training_data_fingerprint", *extra_keys})
    if unknown:
        raise CheckpointError(f"{cfg_path}: unknown config keys {', '.join(unknown)}")
    if check_body:
        here = body_data_sha256()
        if recorded != here:
            raise CheckpointError(f"{weights} was trained on body data {str(recorded)[:12]}..., but the body data "
                                  f"here is {here[:12]}...: retrain it (`make train MODEL={stem}`) or use the "
                                  "body data it was made for")
    digest = sha256_file(weights)
    if raw.get(WEIGHTS_KEY) != digest:
        raise CheckpointError(f"{weights} is not the file its config records (sha256 {digest[:12]}..., recorded "
                              f"{str(raw.get(WEIGHTS_KEY))[:12]}...): it was changed after training")
    fields = {**(absent or {}), **{k: v for k, v in raw.items() if k in known}}
    cfg = config_cls(**_coerce(config_cls, fields))
    state = load_file(str(weights))
    bad = [k for k, v in state.items() if not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(f"{weights}: non-finite values in {', '.join(bad[:5])}")
    return cfg, state

