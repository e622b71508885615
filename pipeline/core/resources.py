"""Where the body data and the shipped model weights are: one resolver for every way the product runs.

- From a checkout (``make install``, editable): ``assets/body`` and ``models/weights/<model>`` of the checkout.
- From an installed wheel (``pip install .``, the Blender extension's bundled wheel): the wheel carries the body
  data as ``pipeline/body_data`` and the weights inside the ``models`` package, beside ``pipeline``.
``$AVATAR_BODY_ASSETS`` and ``$AVATAR_WEIGHTS_DIR`` (a folder holding ``<model>/`` folders) override both.
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.core.files import sha256_file

_PACKAGE = Path(__file__).resolve().parents[1]  # pipeline/
_CHECKOUT = _PACKAGE.parent
BODY_FILE = "body.npz"


def checkout_root() -> Path | None:
    """The project checkout this package runs from, or None when it runs from an installed wheel."""
    return _CHECKOUT if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "assets").is_dir() else None


def body_data_dir() -> Path:
    """The folder holding ``body.npz``, the rigs, region masks and presets (FileNotFoundError if none)."""
    env = os.environ.get("AVATAR_BODY_ASSETS")
    candidates = [Path(env)] if env else [_PACKAGE / "body_data", _CHECKOUT / "assets" / "body"]
    for c in candidates:
        if (c / BODY_FILE).is_file():
            return c.resolve()
    raise FileNotFoundError(f"body data ({BODY_FILE}) not found in {', '.join(map(str, candidates))}; "
                            "rebuild it with `make assets` or reinstall the package")


def weights_dir(model: str) -> Path:
    """The folder of a shipped model's weights (``models/weights/<model>``), existing or not."""
    env = os.environ.get("AVATAR_WEIGHTS_DIR")
    return (Path(env) if env else _CHECKOUT / "models" / "weights") / model


def body_data_sha256(folder: Path | None = None) -> str:
    """Checksum of the body space (``body.npz``): checkpoints record it, loading and the add-on's worker check it."""
    return sha256_file((folder or body_data_dir()) / BODY_FILE)
