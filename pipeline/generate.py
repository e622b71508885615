"""``avatar generate``: spec file -> decoded, refined, rigged avatars, exported and previewed.

The same function serves the CLI, ``make demo`` and (later) the Blender add-on. Layout and manifest as in
``shared/INTERFACES.md``. A bad avatar fails with readable lines (stderr and manifest); the others go on.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from pipeline.anthropometry import MEASUREMENT_KEYS
from pipeline.attributes import AvatarRequest, SpecError, load_spec, normalise_attributes
from pipeline.body_model import RIG_NAMES, BodyModel, load_body_model
from pipeline.files import atomic_save_png, atomic_write_json, sha256_file
from pipeline.skin_tone import base_color_for
from pipeline.versions import tool_versions

SUPPORTED_FORMATS = ("glb",)
PLANNED_FORMATS = ("fbx-unity", "fbx-unreal", "usd")
# Deviations (achieved - requested) beyond these become warnings: the refinement aims well within them.
WARN_TOLERANCE = {"height_cm": ("stature_cm", 0.2, False), "weight_kg": ("mass_kg", 0.01, True),
                  "chest_cm": ("chest_cm", 0.5, False), "waist_cm": ("waist_cm", 0.5, False),
                  "hips_cm": ("hips_cm", 0.5, False), "inseam_cm": ("inseam_cm", 0.5, False)}


@dataclass
class GenerateOptions:
    out: Path
    formats: tuple[str, ...] = ("glb",)
    rig: str = "game_engine"
    preview: bool = True
    refine: bool = True
    echo: Callable[[str], None] = field(default=lambda s: print(s, flush=True))


@dataclass
class Decoded:
    """Decoded and refined bodies for a list of requests."""

    coefficients: np.ndarray  # (B, K)
    measurements: dict[str, np.ndarray]  # key -> (B,)
    warnings: list[list[str]]


def decode_requests(requests: list[AvatarRequest], body: BodyModel, refine: bool = True) -> Decoded:
    """Attribute vectors -> decoder (latent from each seed) -> refinement -> achieved measurements and warnings."""
    from models.decoder import AvatarDecoder, decode, latent_for_seed, prior_covariance
    from models.refine import Refiner, targets_from_requests

    decoder = AvatarDecoder.load()
    values = [r.attribute_values() for r in requests]
    a, m = normalise_attributes(values)
    z = np.stack([latent_for_seed(r.seed, decoder.cfg.latent_dim) for r in requests])
    c0 = decode(decoder, a, m, z)
    refiner = Refiner(body, prior_cov=prior_covariance(decoder))
    if refine:
        c, achieved = refiner(c0, targets_from_requests(values))
    else:
        c, achieved = refiner(c0, {})
    warnings: list[list[str]] = []
    for i, r in enumerate(requests):
        w = []
        for spec_key, (mkey, tol, relative) in WARN_TOLERANCE.items():
            want = getattr(r, spec_key)
            if want is None:
                continue
            got = float(achieved[mkey][i])
            dev = got - want
            if abs(dev) > (tol * want if relative else tol):
                unit = "kg" if spec_key == "weight_kg" else "cm"
                w.append(f"avatar {r.name!r}: {spec_key} requested {want:g}, the closest plausible body has "
                         f"{got:.1f} {unit} (deviation {dev:+.1f} {unit}); the request lies outside the "
                         "population the body space covers")
        warnings.append(w)
    return Decoded(coefficients=c, measurements=achieved, warnings=warnings)


def generate(spec: Path, options: GenerateOptions) -> tuple[dict, int]:
    """Run a spec. Returns the manifest and the exit code (0 only when every avatar was made)."""
    from pipeline.assembly import assemble, avatar_from_batch
    from pipeline.gltf_export import write_glb
    from pipeline.preview import FRONT, SIDE, Renderer, contact_sheet, posed_vertices, relaxed_arms
    from pipeline.skinning import GAME_INFLUENCES

    out = options.out
    bad_formats = [f for f in options.formats if f not in SUPPORTED_FORMATS]
    if bad_formats:
        raise SpecError([f"--formats: {', '.join(bad_formats)} not available yet (this build writes: "
                         f"{', '.join(SUPPORTED_FORMATS)}; {', '.join(PLANNED_FORMATS)} come with the Blender "
                         "export)"])
    if options.rig not in RIG_NAMES:
        raise SpecError([f"--rig {options.rig!r}: allowed {', '.join(RIG_NAMES)}"])
    t_start = time.perf_counter()
    requests, failures = load_spec(spec)
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict = {"spec": str(spec), "versions": tool_versions(), "rig": options.rig,
                      "formats": list(options.formats), "avatars": {}}
    for label, problems in failures:
        manifest["avatars"][label] = {"status": "failed", "error": problems, "files": {}}
        for p in problems:
            print(p, file=sys.stderr)
    body = load_body_model()
    rig = body.rig(options.rig)
    previews: list[tuple[str, Image.Image]] = []
    if requests:
        t = time.perf_counter()
        dec = decode_requests(requests, body, options.refine)
        batch = assemble(body, rig, dec.coefficients)
        t_decode = (time.perf_counter() - t) / len(requests)
        heights = np.ptp(batch.vertices[..., 2], axis=1)
        frame_h = float(heights.max()) * 1.08
        renderer = Renderer(384, 512) if options.preview else None
        try:
            for i, req in enumerate(requests):
                t_item = time.perf_counter()
                try:
                    folder = out / req.name
                    meas = {k: round(float(dec.measurements[k][i]), 2) for k in MEASUREMENT_KEYS}
                    color = base_color_for(req.skin_ita, req.fitzpatrick)
                    avatar = avatar_from_batch(body, rig, batch, i, req.name, GAME_INFLUENCES,
                                               base_color=np.array(color),
                                               meta={"request": req.as_dict(), "measurements": meas})
                    files = {}
                    if "glb" in options.formats:
                        files["glb"] = write_glb(avatar, folder / f"{req.name}.glb")
                    if renderer is not None:
                        posed = posed_vertices(avatar, relaxed_arms(avatar))
                        floor = float(posed[:, 2].min())
                        for view, fname in ((FRONT, "preview.png"), (SIDE, "preview_side.png")):
                            img, _ = renderer.render(posed, avatar.faces, color, view, frame_h,
                                                     floor + frame_h / 2 - 0.02)
                            pil = Image.fromarray(img)
                            files[view.name] = atomic_save_png(folder / fname, pil)
                            if view is FRONT:
                                previews.append((f"{req.name} {meas['stature_cm']:.0f} cm {meas['mass_kg']:.0f} kg",
                                                 pil))
                    files["json"] = atomic_write_json(folder / "avatar.json", {
                        "request": req.as_dict(), "measurements": meas, "seed": req.seed,
                        "warnings": dec.warnings[i], "rig": options.rig, "influences": avatar.influences,
                        "versions": manifest["versions"]})
                    for w in dec.warnings[i]:
                        print(f"warning: {w}", file=sys.stderr)
                    manifest["avatars"][req.name] = {
                        "status": "done", "error": None, "warnings": dec.warnings[i],
                        "files": {p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
                                  for p in files.values()},
                        "timings_s": {"decode_refine_assemble": round(t_decode, 4),
                                      "export_preview": round(time.perf_counter() - t_item, 4)},
                    }
                    options.echo(f"  [{i + 1}/{len(requests)}] {req.name:16s} {meas['stature_cm']:6.1f} cm "
                                 f"{meas['mass_kg']:6.1f} kg -> {folder}")
                except Exception as exc:  # one bad avatar must not stop the batch
                    msg = f"avatar {req.name!r}: {type(exc).__name__}: {exc}"
                    print(msg, file=sys.stderr)
                    manifest["avatars"][req.name] = {"status": "failed", "error": [msg], "files": {}}
        finally:
            if renderer is not None:
                renderer.close()
    if previews:
        labels, images = zip(*previews, strict=True)
        atomic_save_png(out / "contact_sheet.png", contact_sheet(list(images), list(labels),
                                                                 columns=min(len(images), 6)))
    manifest["timings_s"] = {"total": round(time.perf_counter() - t_start, 3)}
    atomic_write_json(out / "manifest.json", manifest)
    failed = [k for k, v in manifest["avatars"].items() if v["status"] != "done"]
    return manifest, (1 if failed else 0)
