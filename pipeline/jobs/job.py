"""One avatar job: the stages in order, from a validated request to the files of its folder and its manifest entry.

Each avatar is decoded on its own (batch size 1), so its output does not depend on which other avatars share the
run, on the backend or on the number of workers. A job raises on failure; ``run_job`` turns that into a failed
entry so a bad avatar never stops the batch.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.core.files import atomic_write_json, refuse_links, sha256_file
from pipeline.core.spec import AvatarRequest
from pipeline.core.versions import tool_versions
from pipeline.jobs.context import JobContext
from pipeline.jobs.options import JobOptions
from pipeline.jobs.stages import (
    avatar_for_request,
    build_stage,
    decode_requests,
    export_stage,
    glb_stage,
    preview_stage,
    request_meta,
    stylise_stage,
    texture_stage,
)


class Clock:
    """Seconds per stage: ``with clock("decode_refine"): ...``; ``total`` counts from creation."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = time.perf_counter() - t

    def rounded(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in {**self.seconds, "total": time.perf_counter() - self.t0}.items()}


def request_fingerprint(req: AvatarRequest, options: JobOptions) -> str:
    """What the avatar's files depend on: the request, the job options and the tool version (32 hex digits)."""
    payload = {"request": req.as_dict(), **options.fingerprint_fields(),
               "tool": tool_versions().get("avatar-pipeline")}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def make_avatar(req: AvatarRequest, options: JobOptions, ctx: JobContext) -> dict[str, Any]:
    """Decode, texture, assemble, export every format, preview, record. Returns the manifest entry.

    GLB is written from the AvatarData by the numpy writer; a Blender scene is built only for FBX, USD or a
    Blender preview (EEVEE, Cycles), so GLB-only jobs with pyrender previews or none never load Blender.
    """
    clock = Clock()
    folder = options.out / req.name
    refuse_links(folder, folder / "textures")
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{folder} is in the way of the avatar's folder")
    with clock("decode_refine"):
        dec = decode_requests([req], ctx, options.refine)
    with clock("texture"):
        textures = texture_stage(req, ctx, options.texture_size)
    if req.style == "comic":
        with clock("stylise"):
            textures = stylise_stage(req, textures, ctx)
    files: dict[str, Path] = {}
    built = None
    groups = options.influences()
    blender_preview = options.preview and options.preview_engine != "pyrender"
    for g, (k, formats) in enumerate(groups):
        with clock(f"assemble_k{k}"):
            avatar = avatar_for_request(req, ctx.body, dec, 0, options.rig, options.names, k, textures)
        if "glb" in formats:  # from AvatarData by the numpy writer: no Blender scene needed
            with clock("export_glb"):
                files.update(glb_stage(avatar, folder, req.name))
        scene_formats = [f for f in formats if f != "glb"]
        if scene_formats or (blender_preview and g == len(groups) - 1):
            with clock(f"blender_build_k{k}"):
                built = build_stage(avatar, ctx)
        for fmt in scene_formats:
            with clock(f"export_{fmt}"):
                files.update(export_stage(built, folder, req.name, fmt, avatar))
    if options.preview:
        with clock("preview"):
            if options.preview_engine == "pyrender":  # CPU-posed: the rig's own names, game influences
                avatar = avatar_for_request(req, ctx.body, dec, 0, options.rig, "internal", 4, textures)
            files.update(preview_stage(avatar, textures, folder, options.preview_engine, ctx, built,
                                          options.enhance))
    meta = request_meta(req, dec)
    files["json"] = atomic_write_json(folder / "avatar.json", {
        **meta, "rig": options.rig, "formats": list(options.formats), "versions": tool_versions()})
    return {"status": "done", "error": None, "warnings": meta["warnings"],
            "fingerprint": request_fingerprint(req, options), "measurements": meta["measurements"],
            "files": {p.relative_to(folder).as_posix(): {"sha256": sha256_file(p), "bytes": p.stat().st_size}
                      for p in files.values()},
            "timings_s": clock.rounded()}


def failed_entry(req: AvatarRequest, options: JobOptions, exc: BaseException) -> dict[str, Any]:
    """The manifest entry of an avatar whose job raised ``exc``."""
    return {"status": "failed", "error": [f"avatar {req.name!r}: {type(exc).__name__}: {exc}"], "files": {},
            "fingerprint": request_fingerprint(req, options)}


def run_job(req: AvatarRequest, options: JobOptions, ctx: JobContext) -> dict[str, Any]:
    """``make_avatar``, with any failure turned into a failed entry naming the avatar (the batch goes on)."""
    try:
        return make_avatar(req, options, ctx)
    except Exception as exc:  # one bad avatar must not stop the batch
        return failed_entry(req, options, exc)
