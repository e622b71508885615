"""Tool versions recorded in manifests and avatar.json."""

from __future__ import annotations

import importlib.metadata as md
import platform


def tool_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("avatar-pipeline", "numpy", "torch", "pyrender", "trimesh", "pillow"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "source" if pkg == "avatar-pipeline" else "absent"
    return out
