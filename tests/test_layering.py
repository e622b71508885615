"""Dependencies point one way: the numpy core imports neither torch nor bpy; the product never imports anny."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = [p for p in (ROOT / "pipeline").glob("*.py") if not p.name.startswith("blender_")]


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


def test_avatar_builds_and_exports_with_anny_blocked(tmp_path):
    code = f"""
import sys
sys.modules['anny'] = None  # any import of anny now raises ImportError
sys.path.insert(0, {str(ROOT)!r})
from pipeline.demo import run
m = run(__import__('pathlib').Path({str(tmp_path)!r}), names=('adult_woman',))
assert m['avatars']['adult_woman']['status'] == 'done'
assert 'anny' not in [k for k, v in sys.modules.items() if v is not None]
print('ok')
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "adult_woman" / "adult_woman.glb").stat().st_size > 100_000
