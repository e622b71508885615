"""The Khronos glTF-Validator, run through Node on written GLB files.

The validator is the npm package ``gltf-validator`` (installed by ``make`` into ``.cache/node``; another folder
holding ``node_modules/gltf-validator`` can be named by ``AVATAR_GLTF_VALIDATOR_DIR``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("gltf_validator.cjs")


class ValidatorUnavailable(RuntimeError):
    """Node or the gltf-validator package is missing."""


def validator_dir() -> Path:
    d = Path(os.environ.get("AVATAR_GLTF_VALIDATOR_DIR", ROOT / ".cache" / "node"))
    if not (d / "node_modules" / "gltf-validator").is_dir():
        raise ValidatorUnavailable(f"gltf-validator not installed under {d} (run `make validator`)")
    return d


def validate_glb(paths: list[Path | str]) -> dict[str, dict]:
    """Validate GLB files; returns path -> the validator's report (``issues.numErrors`` etc.)."""
    node = shutil.which("node")
    if node is None:
        raise ValidatorUnavailable("node is not on PATH")
    env = dict(os.environ, NODE_PATH=str(validator_dir() / "node_modules"))
    proc = subprocess.run([node, str(SCRIPT), *map(str, paths)], capture_output=True, text=True, env=env,
                          timeout=300, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"gltf-validator failed: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def summarize(report: dict) -> dict:
    """Errors, warnings and the codes of the messages of one report."""
    issues = report["issues"]
    return {
        "errors": issues["numErrors"],
        "warnings": issues["numWarnings"],
        "codes": sorted({m["code"] for m in issues["messages"]}),
        "messages": [f"{m['code']}: {m['message']} ({m.get('pointer', '')})" for m in issues["messages"]
                     if m["severity"] <= 1],
    }
