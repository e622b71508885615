"""AvatarData invariants are checked at construction."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pipeline.core.assembly import assemble, avatar_from_batch
from pipeline.core.avatar_data import AvatarDataError


@pytest.fixture(scope="module")
def avatar(body):
    rig = body.rig("game_engine")
    return avatar_from_batch(body, rig, assemble(body, rig, body.presets["child"]), 0, "kid", 4)


def test_valid_avatar_is_frozen_and_read_only(avatar):
    with pytest.raises(dataclasses.FrozenInstanceError):
        avatar.name = "x"
    with pytest.raises(ValueError):
        avatar.vertices[0, 0] = 1.0


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: {"vertices": a.vertices[:, :2]}, "vertices has shape"),
        (lambda a: {"vertices": np.where(np.arange(a.n_vertices)[:, None] == 3, np.nan, a.vertices)},
         "non-finite"),
        (lambda a: {"faces": a.faces + a.n_vertices}, "faces index"),
        (lambda a: {"skin_weights": a.skin_weights * 1.01}, "sum to"),
        (lambda a: {"skin_weights": np.abs(a.skin_weights) * np.array([1, 1, 1, -1])}, "negative"),
        (lambda a: {"skin_indices": np.where(a.skin_weights == 0, 5, a.skin_indices)}, "unused skin slots"),
        (lambda a: {"skin_indices": a.skin_indices + 100}, "skin indices"),
        (lambda a: {"bone_parents": np.where(np.arange(a.n_bones) == 0, 1, a.bone_parents)},  # root <-> its child
         "cycle|bone parents|unreachable"),
        (lambda a: {"bone_names": (a.bone_names[1], *a.bone_names[1:])}, "not unique"),
        (lambda a: {"bone_rest": a.bone_rest * 2}, "rigid|last row"),
        (lambda a: {"influences": 5}, "skin_indices has shape"),
        (lambda a: {"uvs": a.uvs[:-1]}, "uvs has shape"),
    ],
)
def test_broken_invariants_raise(avatar, change, message):
    with pytest.raises(AvatarDataError, match=message):
        avatar.replace(**change(avatar))
