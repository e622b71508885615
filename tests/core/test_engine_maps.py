"""Roughness packed for engines beside an FBX, and the maps' invariants in AvatarData."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.core.avatar_data import AvatarDataError
from pipeline.formats.engine_maps import unity_mask_map, unreal_orm


def test_orm_and_mask_map_channels():
    r = np.arange(256, dtype=np.uint8).reshape(16, 16)
    orm = unreal_orm(r)
    assert orm.shape == (16, 16, 3) and (orm[..., 0] == 255).all() and (orm[..., 1] == r).all()
    assert (orm[..., 2] == 0).all()
    mask = unity_mask_map(r)
    assert mask.shape == (16, 16, 4) and (mask[..., 3] == 255 - r).all() and (mask[..., 1] == 255).all()
    assert (mask[..., 0] == 0).all()


def test_maps_must_match_the_albedo(body):
    from pipeline.core.assembly import assemble, avatar_from_batch

    rig = body.rig("game_engine")
    c = np.zeros((1, body.n_components))
    tex = np.zeros((64, 64, 3), np.uint8)
    avatar = avatar_from_batch(body, rig, assemble(body, rig, c), 0, "a", 4, texture=tex)
    ok = avatar.replace(normal_map=np.full((64, 64, 3), 128, np.uint8), roughness_map=np.zeros((64, 64), np.uint8))
    assert ok.normal_map.shape == (64, 64, 3)
    with pytest.raises(AvatarDataError, match="normal_map"):
        avatar.replace(normal_map=np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(AvatarDataError, match="roughness_map"):
        avatar.replace(roughness_map=np.zeros((64, 64, 3), np.uint8))
