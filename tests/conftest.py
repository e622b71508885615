"""Shared fixtures and the test tiers: every test carries the marker of its folder (``tests/core``,
``tests/models``, ``tests/bpy``, ``tests/e2e``; room for ``clients`` and ``ray``), so ``pytest -m bpy`` selects a
tier. anny (a development dependency that ``make test`` installs) is the reference in some core tests."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TIERS = ("core", "models", "bpy", "e2e", "clients", "ray")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
os.environ.setdefault("ANNY_CACHE_DIR", str(ROOT / ".cache" / "anny"))

from pipeline.core.body_model import load_body_model  # noqa: E402
from pipeline.core.rig_names import RIG_NAMES  # noqa: E402


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """With ``-m TIER`` (one tier), the other tiers' folders are not even imported: the bpy tier then runs in an
    environment without torch (``make test-bpy42``)."""
    tier = config.getoption("markexpr")
    if tier in TIERS and collection_path.parent == ROOT / "tests" and collection_path.name in TIERS:
        return collection_path.name != tier or None
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(str(item.fspath)).parent.name
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session")
def body():
    return load_body_model()


@pytest.fixture(scope="session", params=RIG_NAMES)
def rig(request, body):
    return body.rig(request.param)


class AnnyReference:
    """anny's model for one rig, in float64, with helpers that return numpy arrays."""

    def __init__(self, rig: str) -> None:
        import torch

        from assets import build_body_assets as build

        self.torch = torch
        self.build = build
        self.model = build.build_model(rig)

    def sample(self, n: int, seed: int, local_sd: float = 0.25):
        return self.build.sample_parameters(self.model, n, seed, local_sd)

    def rest(self, phen, local) -> dict[str, np.ndarray]:
        return self.build.rest_states(self.model, phen, local)

    def posed(self, phen, local, world_rotations: np.ndarray) -> np.ndarray:
        """Vertices posed by per-bone rotations given in world-aligned axes (n, J, 3, 3): each bone turns by
        G_c relative to its parent, whatever its bone-local axes are. Converted to anny's 'local-bone'
        parameterization with anny's own rest frames: D_c = R_c^T G_c R_c, root D_0 = [G_0 R_0 | h_0]."""
        torch = self.torch
        m = self.model
        with torch.no_grad():
            coeffs = m._get_phenotype_blendshape_coefficients(phen, local, torch.zeros(phen.shape[0], 0,
                                                                                       dtype=phen.dtype))
            rest = m.get_rest_model(coeffs)["rest_bone_poses"].numpy()
            r = rest[:, :, :3, :3]
            delta = np.tile(np.eye(4), (*rest.shape[:2], 1, 1))
            delta[:, :, :3, :3] = np.swapaxes(r, -1, -2) @ world_rotations @ r
            delta[:, 0, :3, :3] = world_rotations[:, 0] @ r[:, 0]
            delta[:, 0, :3, 3] = rest[:, 0, :3, 3]
            out = m(pose_parameters=torch.from_numpy(delta), phenotype_kwargs=phen, local_changes_kwargs=local)
        return out["vertices"].numpy()


@pytest.fixture(scope="session")
def anny_game_engine():
    return AnnyReference("game_engine")  # anny is a dev dependency that `make test` installs: never skipped
