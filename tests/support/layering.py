"""The layering rules and two checks of them: a static walk over every import (module level and inside functions)
through the transitive closure of project modules, and a dynamic import of each module in a fresh process with the
forbidden modules made unimportable.

Layers (``README.md``, Architecture): ``pipeline.core`` imports no other layer; ``pipeline.formats`` only the core;
``pipeline.preview`` the core (and pyrender); ``pipeline.blender`` the core, formats and bpy, never the models;
``models`` the core and torch, never Blender; ``pipeline.jobs`` and the entry points wire everything. Nothing
outside ``addon/`` imports the add-on, and the product never imports anny.
"""

from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PRODUCT_PACKAGES = ("pipeline", "models", "addon")
_NEVER = ("anny", "addon")  # for every product module outside addon/


@dataclasses.dataclass(frozen=True)
class Rule:
    """Modules named ``layer`` or below it may not reach any of ``forbidden`` (module names or their prefixes)."""

    layer: str
    forbidden: tuple[str, ...]


RULES = (
    Rule("pipeline.core", ("torch", "bpy", "mathutils", "pyrender", "models", "pipeline.formats", "pipeline.blender",
                           "pipeline.jobs", "pipeline.preview", *_NEVER)),
    Rule("pipeline.formats", ("torch", "bpy", "mathutils", "pyrender", "models", "pipeline.blender",
                              "pipeline.jobs", "pipeline.preview", *_NEVER)),
    Rule("pipeline.preview", ("torch", "bpy", "mathutils", "models", "pipeline.blender", "pipeline.jobs", *_NEVER)),
    Rule("pipeline.blender", ("torch", "models", "pipeline.jobs", "pipeline.preview", *_NEVER)),
    Rule("models", ("bpy", "mathutils", "pipeline.blender", "pipeline.jobs", "pipeline.preview", *_NEVER)),
    Rule("pipeline", _NEVER),  # jobs and the entry points: everything but the add-on and anny
)


def _covers(prefix: str, name: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def rule_for(module: str) -> Rule | None:
    """The most specific rule for a module (None outside the product's layers, e.g. the add-on)."""
    matches = [r for r in RULES if _covers(r.layer, module)]
    return max(matches, key=lambda r: len(r.layer)) if matches else None


def project_modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under the product packages of a checkout."""
    out = {}
    for pkg in PRODUCT_PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every module a file imports anywhere (functions included), as dotted names; relative imports resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found |= {f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known}
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in
              ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            found.add(node.args[0].value)
    return found


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def reachable(root: Path) -> dict[str, set[str]]:
    """Module -> every module it can import, directly or through project modules, at import time or later."""
    known = project_modules(root)
    direct = {m: {p for name in _imports(m, path, known) for p in _with_parents(name)} | set(_with_parents(m))
              for m, path in known.items()}
    closure: dict[str, set[str]] = {}
    for start in known:
        seen, todo = set(), [start]
        while todo:
            m = todo.pop()
            for n in direct.get(m, ()):
                if n not in seen:
                    seen.add(n)
                    if n in direct:
                        todo.append(n)
        closure[start] = seen - {start}
    return closure


# The wiring layer reaches torch and bpy only through the layers that own them (models/, pipeline.blender).
DIRECT = (("pipeline.jobs", ("torch", "bpy", "mathutils", "anny")),
          ("pipeline.cli", ("torch", "bpy", "mathutils", "anny")),
          ("pipeline.run", ("torch", "bpy", "mathutils", "anny")),
          ("pipeline.__main__", ("torch", "bpy", "mathutils", "anny")))


def direct_violations(root: Path) -> list[str]:
    """One line per wiring module that imports torch or bpy itself (anywhere in the file)."""
    known = project_modules(root)
    problems = []
    for module, path in sorted(known.items()):
        for layer, forbidden in DIRECT:
            if _covers(layer, module):
                bad = sorted(n for n in _imports(module, path, known) for f in forbidden if _covers(f, n))
                if bad:
                    problems.append(f"{module} imports {', '.join(bad)} directly")
    return problems


def static_violations(root: Path) -> list[str]:
    """One line per module that can reach a module its layer forbids (with the first chain found)."""
    closure = reachable(root)
    problems = []
    for module, reach in sorted(closure.items()):
        rule = rule_for(module)
        if rule is None:
            continue
        bad = sorted(n for n in reach for f in rule.forbidden if _covers(f, n) and not _covers(f, module))
        if bad:
            problems.append(f"{module} ({rule.layer}) reaches {', '.join(bad[:4])}")
    return problems


_PROBE = """
import importlib, sys
blocked = sys.argv[2:]
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in blocked):
            raise ImportError(f"{name} is outside this layer")
        return None
sys.meta_path.insert(0, Blocked())
sys.path.insert(0, ROOT)
importlib.import_module(sys.argv[1])
"""


def dynamic_violations(root: Path, modules: Iterable[str] | None = None, jobs: int = 4) -> list[str]:
    """Import each layered module in a fresh interpreter with its forbidden modules unimportable; one line per
    module that fails (with the last line of its error)."""
    names = [m for m in (modules or project_modules(root)) if rule_for(m) is not None and not m.endswith("__main__")]

    def probe(module: str) -> str | None:
        rule = rule_for(module)
        assert rule is not None
        blocked = [f for f in rule.forbidden if not _covers(f, module)]
        code = _PROBE.replace("ROOT", repr(str(root)))
        proc = subprocess.run([sys.executable, "-c", code, module, *blocked], capture_output=True, text=True,
                              timeout=300, cwd=root)
        if proc.returncode == 0:
            return None
        return f"{module}: {(proc.stderr.strip().splitlines() or ['no output'])[-1]}"

    with ThreadPoolExecutor(jobs) as pool:
        return [p for p in pool.map(probe, names) if p]
