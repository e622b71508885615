"""Dependencies point one way (tests/support/layering.py has the rules): a static walk of every import, inside
functions too, through the transitive closure; each layered module imported in a fresh process with its forbidden
modules unimportable; planted violations of every rule are caught; the product never imports anny."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.layering import (
    RULES,
    direct_violations,
    dynamic_violations,
    project_modules,
    rule_for,
    static_violations,
)

ROOT = Path(__file__).resolve().parents[2]


def test_every_module_has_a_layer_and_the_static_walk_finds_no_violation():
    modules = project_modules(ROOT)
    assert {"pipeline.core.fields", "pipeline.jobs.batch", "models.decoder.model", "addon.operators"} <= set(modules)
    assert static_violations(ROOT) == []


def test_the_wiring_reaches_torch_and_bpy_only_through_models_and_blender(tmp_path):
    assert direct_violations(ROOT) == []
    root = _tree_copy(tmp_path)
    path = root / "pipeline" / "jobs" / "job.py"
    path.write_text(path.read_text() + "\n\ndef _planted():\n    import torch\n")
    assert direct_violations(root) == ["pipeline.jobs.job imports torch directly"]


def test_each_layered_module_imports_with_its_forbidden_modules_blocked():
    assert dynamic_violations(ROOT) == []


# function-level imports (the hard case) of every rule, and one through another layer's module
PLANTS = {
    "pipeline/core/colour.py": "import torch",
    "pipeline/core/population.py": "from pipeline.jobs import stages",
    "pipeline/formats/glb_read.py": "from models.decoder import model",
    "pipeline/preview/contact_sheet.py": "import bpy",
    "pipeline/blender/compat.py": "import models.decoder.refine",
    "models/common/reports.py": "from pipeline.blender import build",
    "pipeline/jobs/manifest.py": "from addon import runtime",
}


def _tree_copy(tmp_path: Path) -> Path:
    for pkg in ("pipeline", "models", "addon"):
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("weights", "__pycache__"))
    return tmp_path


def test_planted_violations_of_every_rule_are_caught(tmp_path):
    root = _tree_copy(tmp_path)
    for rel, statement in PLANTS.items():
        path = root / rel
        path.write_text(path.read_text() + f"\n\ndef _planted():\n    {statement}\n")
    flagged = {line.split(" ")[0] for line in static_violations(root)}
    planted = {rel[:-3].replace("/", ".") for rel in PLANTS}
    assert planted <= flagged, planted - flagged
    assert {rule_for(m).layer for m in planted} == {r.layer for r in RULES}  # a plant for every rule


def test_a_planted_module_level_import_fails_the_dynamic_check(tmp_path):
    root = _tree_copy(tmp_path)
    path = root / "pipeline" / "core" / "colour.py"
    path.write_text(path.read_text().replace("from __future__ import annotations\n",
                                             "from __future__ import annotations\nimport torch  # planted\n"))
    (bad,) = dynamic_violations(root, ["pipeline.core.colour"])
    assert bad.startswith("pipeline.core.colour: ") and "torch is outside this layer" in bad


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def test_product_never_imports_anny():
    for folder in ("pipeline", "models", "addon"):
        for path in (ROOT / folder).rglob("*.py"):
            assert "anny" not in _imports(path), path


@pytest.mark.parametrize("blocked", ["anny"])
def test_avatar_generates_with_anny_blocked(tmp_path, blocked):
    spec = tmp_path / "one.toml"
    spec.write_text('[[avatar]]\nname = "ana"\nsex = "female"\nage_years = 34\nheight_cm = 168\nweight_kg = 61\n')
    code = f"""
import sys
sys.modules[{blocked!r}] = None  # any import of it now raises ImportError
from pathlib import Path
from pipeline.jobs.batch import generate
from pipeline.jobs.options import GenerateOptions
m, code = generate(Path({str(spec)!r}), GenerateOptions(out=Path({str(tmp_path / "out")!r}), preview=False))
assert code == 0 and m['avatars']['ana']['status'] == 'done', m
assert {blocked!r} not in [k for k, v in sys.modules.items() if v is not None]
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "ana" / "ana.glb").stat().st_size > 100_000
