"""Twist bones of the game rig: where they are, the weights they take, the rule that drives them, and what they do
to a rolled forearm (the deformation measures of pipeline.core.deformation, checked on known shapes first)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh

from pipeline.core.assembly import assemble, avatar_from_batch
from pipeline.core.deformation import ELBOW, WRIST, cone_volume, quality_report, slab_volume
from pipeline.core.twist import TWIST_BONES, apply_twist_rule, roll_y

ROOT = Path(__file__).resolve().parents[2]


def test_slab_and_patch_volumes_on_known_shapes():
    cyl = trimesh.creation.cylinder(radius=0.05, height=0.4, sections=256)
    ring = 0.5 * 256 * 0.05**2 * np.sin(2 * np.pi / 256)  # the 256-gon's area
    assert slab_volume(cyl.vertices, cyl.faces, np.zeros(3), np.array([0, 0, 1.0]), 0.03) == pytest.approx(
        ring * 0.06, rel=1e-9)
    box = trimesh.creation.box(extents=(0.1, 0.1, 0.6))
    axis = np.array([0.2, 0.1, 1.0]) / np.linalg.norm([0.2, 0.1, 1.0])
    assert slab_volume(box.vertices, box.faces, np.zeros(3), axis, 0.05) == pytest.approx(0.01 * 0.1 / axis[2])
    assert cone_volume(box.vertices, box.faces, np.array([0.01, 0.02, 0.03])) == pytest.approx(0.006)


def test_twist_bones_follow_their_parents_and_take_a_share_of_their_weights(body):
    rig, source = body.rig("game_engine"), body.rig("game_engine", twist=False)
    assert rig.n_bones == source.n_bones + 8 and rig.source_bones == source.n_bones
    assert rig.bone_names[:source.n_bones] == source.bone_names
    a = avatar_from_batch(body, rig, assemble(body, rig, body.presets["adult_man"]), 0, "m", 4)
    dense = np.zeros((body.n_vertices, rig.n_bones))
    np.add.at(dense, (np.arange(body.n_vertices)[:, None].repeat(rig.skin_indices.shape[1], 1), rig.skin_indices),
              rig.skin_weights)
    src = np.zeros((body.n_vertices, source.n_bones))
    np.add.at(src, (np.arange(body.n_vertices)[:, None].repeat(source.skin_indices.shape[1], 1),
                    source.skin_indices), source.skin_weights)
    for t in TWIST_BONES:
        j, p = rig.bone_names.index(t.name), rig.bone_names.index(t.parent)
        assert rig.parents[j] == p
        head, ph, pt = a.bone_heads[j], a.bone_heads[p], a.bone_tails[p]
        assert np.allclose(head, ph + t.at * (pt - ph), atol=1e-5)  # on the parent's axis, at its place
        assert np.allclose(a.bone_rest[j, :3, :3], a.bone_rest[p, :3, :3], atol=1e-6)  # the parent's frame
        # parent + twist weights = the source parent weight; the twist bone takes a real share
        assert np.allclose(dense[:, p] + dense[:, j], src[:, p], atol=1e-9)
        assert dense[:, j].max() > 0.9 and (dense[:, j] > 0).sum() > 50, t.name
    assert np.allclose(dense.sum(axis=1), 1.0)
    assert (a.skin_weights > 0).sum(axis=1).max() <= 4


def test_the_rule_rolls_twist_bones_by_a_fraction_of_their_driver(body):
    rig = body.rig("game_engine")
    rot = np.tile(np.eye(3), (rig.n_bones, 1, 1))
    hand = rig.bone_names.index("hand_l")
    swing = np.array([[1.0, 0, 0], [0, np.cos(0.4), -np.sin(0.4)], [0, np.sin(0.4), np.cos(0.4)]])
    rot[hand] = swing @ roll_y(1.0)  # a bend and a roll: only the roll drives the twist bone
    out = apply_twist_rule(rig.bone_names, rot)
    j = rig.bone_names.index("lowerarm_twist_01_l")
    assert np.allclose(out[j], roll_y(0.75), atol=1e-9)
    upper = rig.bone_names.index("upperarm_r")
    rot[upper] = roll_y(-0.8)
    out = apply_twist_rule(rig.bone_names, rot)
    assert np.allclose(out[rig.bone_names.index("upperarm_twist_01_r")], roll_y(0.4), atol=1e-9)  # half undone
    assert np.allclose(out[:j][np.arange(j) != hand][:5], rot[:j][np.arange(j) != hand][:5])  # others untouched


def test_mannequin_names_and_hierarchy_include_the_twist_bones(body):
    table = json.loads((ROOT / "assets" / "rig_tables" / "unreal_mannequin.json").read_text())["parents"]
    rig = body.rig("game_engine")
    for t in TWIST_BONES:
        assert table[t.name] == rig.bone_names[rig.parents[rig.bone_names.index(t.name)]] == t.parent


@pytest.mark.parametrize("preset", ["child", "adult_woman", "heavy_adult", "elder"])
def test_a_rolled_forearm_keeps_its_volume_with_twist_bones(body, preset):
    """Forearm rolled 90 degrees (the hand's roll, distributed by the rule): at the elbow and the wrist the slab of
    +-15 % of the forearm keeps >= 85 % of its volume and no edge there stretches past 2x; without the twist bones
    the wrist keeps less and stretches more."""
    rows = {}
    for twist in (False, True):
        rig = body.rig("game_engine", twist)
        a = avatar_from_batch(body, rig, assemble(body, rig, body.presets[preset]), 0, preset, 4)
        rows[twist] = quality_report(a, ("forearm rolled 90",))["forearm rolled 90"]
    for joint in (ELBOW, WRIST):
        assert rows[True][f"{joint.name} slab kept"] >= 0.85, (preset, joint.name, rows[True])
        assert rows[True][f"{joint.name} stretch"] <= 2.0, (preset, joint.name, rows[True])
    assert rows[False]["wrist slab kept"] < rows[True]["wrist slab kept"] - 0.1
    assert rows[False]["wrist stretch"] > rows[True]["wrist stretch"] + 0.5
