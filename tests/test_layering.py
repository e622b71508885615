"""Dependencies point one way: the numpy core imports neither torch nor bpy; the product never imports anny."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The numpy core: attribute schema, body assembly, rigs, skinning, anthropometry, AvatarData, export, previews.
ORCHESTRATION = {"generate.py", "cli.py", "__main__.py"}  # call into models/ (torch) for decoding
CORE = [p for p in (ROOT / "pipeline").glob("*.py")
        if not p.name.startswith("blender_") and p.name not in ORCHESTRATION]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def test_core_imports_no_torch_no_bpy():
    assert CORE
    for path in CORE:
        bad = _imports(path) & {"torch", "bpy", "models", "anny"}
        assert not bad, f"{path.name} imports {bad}"


def test_product_never_imports_anny():
    for folder in ("pipeline", "models", "addon"):
        for path in (ROOT / folder).rglob("*.py"):
            assert "anny" not in _imports(path), path


def test_orchestration_imports_torch_only_through_models():
    for name in ORCHESTRATION:
        assert not _imports(ROOT / "pipeline" / name) & {"torch", "bpy", "anny"}, name


def test_avatar_generates_with_anny_blocked(tmp_path):
    spec = tmp_path / "one.toml"
    spec.write_text('[[avatar]]\nname = "ana"\nsex = "female"\nage_years = 34\nheight_cm = 168\nweight_kg = 61\n')
    code = f"""
import sys
sys.modules['anny'] = None  # any import of anny now raises ImportError
sys.path.insert(0, {str(ROOT)!r})
from pathlib import Path
from pipeline.generate import GenerateOptions, generate
m, code = generate(Path({str(spec)!r}), GenerateOptions(out=Path({str(tmp_path / "out")!r}), preview=False))
assert code == 0 and m['avatars']['ana']['status'] == 'done', m
assert 'anny' not in [k for k, v in sys.modules.items() if v is not None]
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "ana" / "ana.glb").stat().st_size > 100_000
