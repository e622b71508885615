"""Roughness packed for engines beside an FBX, and the maps' invariants in AvatarData."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.core.avatar_data import AvatarDataError
from pipeline.formats.engine_maps import ENGINE_MAPS, directx_normal, unity_mask_map, unreal_orm


def test_orm_and_mask_map_channels():
    r = np.arange(256, dtype=np.uint8).reshape(16, 16)
    orm = unreal_orm(r)
    assert orm.shape == (16, 16, 3) and (orm[..., 0] == 255).all() and (orm[..., 1] == r).all()
    assert (orm[..., 2] == 0).all()
    mask = unity_mask_map(r)
    assert mask.shape == (16, 16, 4) and (mask[..., 3] == 255 - r).all() and (mask[..., 1] == 255).all()
    assert (mask[..., 0] == 0).all()


def test_unreal_gets_the_normal_map_directx_style():
    """Our normal maps are OpenGL-style (green up the texture): a height rising toward the top of the image (+v)
    tilts its normals down the texture, green below the middle; Unreal reads green down, so its copy has that
    slope's green above the middle. Red and blue stay."""
    import torch

    from models.texture.model import height_to_normal

    rows = torch.arange(32, dtype=torch.float32).flip(0)[:, None].expand(32, 32)  # row 0, the top, is highest
    nxy = height_to_normal(rows[None, None] * 0.5)[0]  # (2, H, W): x, y
    z = torch.sqrt(1 - (nxy ** 2).sum(0, keepdim=True))
    opengl = ((torch.cat([nxy, z]).permute(1, 2, 0).numpy() * 0.5 + 0.5) * 255).round().astype(np.uint8)
    assert opengl[4:-4, 4:-4, 1].max() < 128  # the map's own convention
    dx = directx_normal(opengl)
    assert dx[4:-4, 4:-4, 1].min() > 128 and (dx[..., 1] == 255 - opengl[..., 1]).all()
    assert (dx[..., [0, 2]] == opengl[..., [0, 2]]).all()
    assert [label for label, _, _ in ENGINE_MAPS["fbx-unreal"]] == ["ORM", "NormalDX"]
    assert all(label != "NormalDX" for label, _, _ in ENGINE_MAPS["fbx-unity"])  # Unity reads OpenGL-style


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
