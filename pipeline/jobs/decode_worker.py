"""Decoding in a separate process, for Blender Pythons without torch (the add-on's worker path).

Protocol: a JSON object on stdin (one shot), or one per line with ``--serve`` (the add-on keeps such a worker
running, so torch starts once per Blender session); each is ``{"requests": [spec entry, ...], "refine": true}``.
The answer, one JSON object (one line): ``{"body_sha256": ..., "coefficients": [[...]], "measurements":
{key: [...]}, "warnings": [[...]]}`` (the checksum of the body data the coefficients belong to, so the caller can
refuse a mismatch), and with ``"textures": {"size": N, "dir": PATH}`` in the request also ``"textures": [{"albedo":
path, "normal": path, "roughness": path, "base_color": [r, g, b, a]}, ...]``: the texture maps written as PNG files
into that folder (never as JSON numbers). A request ``{"enhance": {"in": DIR, "out": DIR}}`` enhances every
passes file of ``in`` with the shipped render enhancer (``avatar enhance``) and answers ``{"enhanced": [png
paths]}``. Either may fail with ``{"error": [lines]}`` (one shot: exit code 1). Floats travel as
JSON numbers (shortest repr), which round-trip float64 exactly, so the avatar is bit-identical to one decoded
in-process. Run as ``python -m pipeline.jobs.decode_worker [--serve]`` with the project's Python (the one that
has torch).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np

from pipeline.core.resources import body_data_sha256
from pipeline.core.spec import SpecError, parse_avatar
from pipeline.jobs.context import JobContext
from pipeline.jobs.stages import decode_requests, stylise_stage, texture_stage


def run(payload: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Answer one request (see the module docstring)."""
    if "enhance" in payload:
        return _enhance(payload["enhance"], ctx)
    requests = [parse_avatar(entry, i) for i, entry in enumerate(payload.get("requests") or [])]
    if not requests:
        raise SpecError(["decode worker: no requests given"])
    dec = decode_requests(requests, ctx, bool(payload.get("refine", True)))
    out = {"body_sha256": body_data_sha256(ctx.body.asset_dir),
           "coefficients": np.asarray(dec.coefficients, dtype=np.float64).tolist(),
           "measurements": {k: np.asarray(v, dtype=np.float64).tolist() for k, v in dec.measurements.items()},
           "warnings": dec.warnings}
    if payload.get("textures"):
        out["textures"] = [_write_maps(r, ctx, payload["textures"]) for r in requests]
    return out


def _write_maps(req, ctx: JobContext, where: dict[str, Any]) -> dict[str, Any]:
    """The request's texture maps as PNG files in ``where["dir"]`` (which must exist)."""
    from pathlib import Path

    from pipeline.core.files import atomic_write_bytes
    from pipeline.formats.png import encode_png

    folder = Path(where["dir"])
    if not folder.is_dir():
        raise NotADirectoryError(f"texture folder {folder} does not exist")
    tex = stylise_stage(req, texture_stage(req, ctx, int(where.get("size", 1024))), ctx)
    files = {k: str(atomic_write_bytes(folder / f"{req.name}_{k}.png",
                                       encode_png(getattr(tex, k), srgb=k == "albedo")))
             for k in ("albedo", "normal", "roughness") if getattr(tex, k) is not None}
    return {**files, "base_color": list(tex.base_color), "comic_style": tex.comic_style}


def _enhance(where: Any, ctx: JobContext) -> dict[str, Any]:
    from pathlib import Path

    from models.enhancer.infer import enhance_folder

    if not isinstance(where, dict) or not all(isinstance(where.get(k), str) for k in ("in", "out")):
        raise SpecError(['decode worker: "enhance" takes {"in": folder, "out": folder}'])
    files = enhance_folder(Path(where["in"]), Path(where["out"]), ctx.enhancer, progress=False)
    return {"enhanced": [str(f) for f in files]}


def _answer(line: str, ctx: JobContext) -> tuple[dict[str, Any], int]:
    try:
        return run(json.loads(line), ctx), 0
    except SpecError as exc:
        return {"error": exc.problems}, 1
    except Exception as exc:  # the caller shows this line to the user
        return {"error": [f"decode worker: {type(exc).__name__}: {exc}"]}, 1


def main(argv: list[str] | None = None) -> int:
    """One request on stdin (one shot), or with ``--serve`` one JSON request per line until stdin closes."""
    ctx = JobContext()
    if "--serve" in (sys.argv[1:] if argv is None else argv):
        for line in sys.stdin:
            if line.strip():
                print(json.dumps(_answer(line, ctx)[0]), flush=True)
        return 0
    out, code = _answer(sys.stdin.read(), ctx)
    print(json.dumps(out))
    return code


if __name__ == "__main__":
    sys.exit(main())
