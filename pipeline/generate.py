"""``avatar generate``: spec file -> decoded, refined, rigged avatars, exported and previewed.

The same functions serve the CLI, ``pipeline/run.py`` (inside Blender or with the bpy module), ``make demo`` and
(later) the Blender add-on. Layout and manifest as in ``shared/INTERFACES.md``.

- Each avatar is decoded on its own (batch size 1), so its output does not depend on which other avatars share
  the run, how many workers there are, or whether it was resumed.
- Every file is written to a temporary name and renamed; the manifest is rewritten (atomically) after every
  avatar, so a killed batch leaves only whole files and a manifest of what is done.
- ``resume``: an avatar is skipped when its manifest entry is done, its request fingerprint (request, rig,
  formats, preview, refinement, tool version) is unchanged and every file exists with its recorded sha256.
- A bad avatar fails with readable lines (stderr and manifest); the others go on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.anthropometry import MEASUREMENT_KEYS
from pipeline.attributes import AvatarRequest, SpecError, load_spec, normalise_attributes
from pipeline.avatar_data import AvatarData
from pipeline.body_model import RIG_NAMES, BodyModel, load_body_model
from pipeline.files import atomic_write_json, sha256_file
from pipeline.skin_tone import TEXTURE_SIZES, base_color_for, skin_albedo
from pipeline.versions import tool_versions

FORMATS = ("glb", "fbx-unity", "fbx-unreal", "usd")
PREVIEW_ENGINES = ("pyrender", "eevee", "cycles")
# Deviations (achieved - requested) beyond these become warnings: the refinement aims well within them.
WARN_TOLERANCE = {"height_cm": ("stature_cm", 0.2, False), "weight_kg": ("mass_kg", 0.01, True),
                  "chest_cm": ("chest_cm", 0.5, False), "waist_cm": ("waist_cm", 0.5, False),
                  "hips_cm": ("hips_cm", 0.5, False), "inseam_cm": ("inseam_cm", 0.5, False)}


def _print_line(text: str) -> None:
    print(text, flush=True)


def _silent(text: str) -> None:
    return None


@dataclass
class GenerateOptions:
    out: Path
    formats: tuple[str, ...] = ("glb",)
    rig: str = "game_engine"
    names: str = "internal"
    preview: bool = True
    refine: bool = True
    texture_size: int = 1024
    preview_engine: str = "pyrender"
    resume: bool = False
    workers: int = 1
    echo: Callable[[str], None] = _print_line

    def fingerprint_fields(self) -> dict[str, Any]:
        return {"formats": list(self.formats), "rig": self.rig, "names": self.names, "preview": self.preview,
                "refine": self.refine, "texture_size": self.texture_size,
                "preview_engine": self.preview_engine}


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

    decoder = _cached("decoder", AvatarDecoder.load)
    refiner = _cached("refiner", lambda: Refiner(body, prior_cov=prior_covariance(decoder)))
    values = [r.attribute_values() for r in requests]
    a, m = normalise_attributes(values)
    z = np.stack([latent_for_seed(r.seed, decoder.cfg.latent_dim) for r in requests])
    c0 = decode(decoder, a, m, z)
    c, achieved = refiner(c0, targets_from_requests(values) if refine else {})
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


_CACHE: dict[str, Any] = {}


def _cached(key: str, make: Callable[[], Any]) -> Any:
    if key not in _CACHE:
        _CACHE[key] = make()
    return _CACHE[key]


def request_fingerprint(req: AvatarRequest, options: GenerateOptions) -> str:
    payload = {"request": req.as_dict(), **options.fingerprint_fields(),
               "tool": tool_versions().get("avatar-pipeline")}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def _file_path(folder: Path, name: str, fmt: str) -> Path:
    from pipeline.blender_export import PRESETS

    return folder / f"{name}{PRESETS[fmt]['suffix']}"


def _side_files(folder: Path, fmt: str) -> list[Path]:
    """Files an exporter writes beside its main file: USD's ``textures/*.png``."""
    return sorted((folder / "textures").glob("*.png")) if fmt == "usd" else []


def avatar_for_request(req: AvatarRequest, body: BodyModel, dec: Decoded, i: int = 0, rig: str = "game_engine",
                       names: str = "internal", influences: int = 4, texture: np.ndarray | None = None,
                       texture_size: int = 1024) -> AvatarData:
    """Item ``i`` of decoded requests -> AvatarData (rig, bone names, k influences, albedo, request and
    measurements in ``meta``). Shared by ``avatar generate`` and the Blender add-on."""
    from pipeline.assembly import assemble, avatar_from_batch
    from pipeline.bone_names import export_names

    r = body.rig(rig)
    batch = assemble(body, r, dec.coefficients[i: i + 1])
    if texture is None:
        texture = skin_albedo(body.asset_dir, texture_size, req.skin_ita, req.fitzpatrick)
    avatar = avatar_from_batch(body, r, batch, 0, req.name, influences,
                               base_color=np.array(base_color_for(req.skin_ita, req.fitzpatrick)), texture=texture,
                               meta=request_meta(req, dec, i))
    return avatar.replace(bone_names=export_names(rig, avatar.bone_names, names))


def request_meta(req: AvatarRequest, dec: Decoded, i: int = 0) -> dict[str, Any]:
    """What an avatar records about itself: the request, the achieved measurements (cm, kg, rounded to 0.01),
    the seed and the warnings (``avatar.json``, the Blender objects' ``avatar_meta``)."""
    return {"request": req.as_dict(),
            "measurements": {k: round(float(dec.measurements[k][i]), 2) for k in MEASUREMENT_KEYS},
            "seed": req.seed, "warnings": list(dec.warnings[i])}


def make_avatar(req: AvatarRequest, options: GenerateOptions) -> dict:
    """Decode, build in Blender, export every format, preview. Returns the manifest entry (raises on failure)."""
    from PIL import Image

    from pipeline.blender_build import build_avatar, reset_scene
    from pipeline.blender_export import PRESETS, export
    from pipeline.files import atomic_save_png
    from pipeline.preview import FRONT, SIDE, Renderer, posed_vertices, relaxed_arms, stride

    t0 = time.perf_counter()
    body = load_body_model()
    dec = decode_requests([req], body, options.refine)
    t_decode = time.perf_counter() - t0
    folder = options.out / req.name
    meta = request_meta(req, dec)
    color = base_color_for(req.skin_ita, req.fitzpatrick)
    albedo = skin_albedo(body.asset_dir, options.texture_size, req.skin_ita, req.fitzpatrick)
    files: dict[str, Path] = {}
    timings = {"decode_refine": t_decode}
    for k in sorted({PRESETS[f]["influences"] for f in options.formats}):
        t = time.perf_counter()
        reset_scene()
        avatar = avatar_for_request(req, body, dec, 0, options.rig, options.names, k, texture=albedo)
        objs = list(build_avatar(avatar))
        timings[f"blender_build_k{k}"] = time.perf_counter() - t
        for fmt in (f for f in options.formats if PRESETS[f]["influences"] == k):
            t = time.perf_counter()
            files[fmt] = export(objs, _file_path(folder, req.name, fmt), fmt)
            for extra in _side_files(folder, fmt):  # USD writes its textures beside the stage
                files[f"{fmt}:{extra.name}"] = extra
            timings[f"export_{fmt}"] = time.perf_counter() - t
    if options.preview and options.preview_engine != "pyrender":
        from pipeline.blender_render import render_previews

        t = time.perf_counter()  # renders the last build (formats are never empty)
        files.update(render_previews(objs[0], avatar, folder, options.preview_engine))
        timings["preview"] = time.perf_counter() - t
    elif options.preview:
        t = time.perf_counter()
        avatar = avatar_for_request(req, body, dec, 0, options.rig, "internal", 4, texture=albedo)
        renderer = _cached("renderer", lambda: Renderer(384, 512))
        frame_h = max(2.0, float(np.ptp(avatar.vertices[:, 2])) * 1.08)  # one scale for every avatar up to 1.85 m
        panels = []
        for pose in (None, relaxed_arms(avatar), stride(avatar)):
            posed = posed_vertices(avatar, pose)
            centre = float(posed[:, 2].min()) + frame_h / 2 - 0.02
            panels.append([renderer.render(posed, avatar.faces, color, view, frame_h, centre)[0]
                           for view in (FRONT, SIDE)])
        # preview.png / preview_side.png: relaxed arms; preview_poses.png: rest, relaxed, stride x front, side
        files["front"] = atomic_save_png(folder / "preview.png", Image.fromarray(panels[1][0]))
        files["side"] = atomic_save_png(folder / "preview_side.png", Image.fromarray(panels[1][1]))
        grid = np.concatenate([np.concatenate(col, axis=0) for col in panels], axis=1)
        files["poses"] = atomic_save_png(folder / "preview_poses.png", Image.fromarray(grid))
        timings["preview"] = time.perf_counter() - t
    files["json"] = atomic_write_json(folder / "avatar.json", {
        **meta, "rig": options.rig, "formats": list(options.formats), "versions": tool_versions()})
    timings["total"] = time.perf_counter() - t0
    return {"status": "done", "error": None, "warnings": meta["warnings"],
            "fingerprint": request_fingerprint(req, options),
            "measurements": meta["measurements"],
            "files": {p.relative_to(folder).as_posix(): {"sha256": sha256_file(p), "bytes": p.stat().st_size}
                      for p in files.values()},
            "timings_s": {k: round(v, 4) for k, v in timings.items()}}


def _safe_make(req: AvatarRequest, options: GenerateOptions) -> tuple[str, dict]:
    try:
        return req.name, make_avatar(req, options)
    except Exception as exc:  # one bad avatar must not stop the batch
        return req.name, {"status": "failed", "error": [f"avatar {req.name!r}: {type(exc).__name__}: {exc}"],
                          "files": {}, "fingerprint": request_fingerprint(req, options)}


def _worker(reqs: list[AvatarRequest], options: GenerateOptions) -> list[tuple[str, dict]]:
    return [_safe_make(r, options) for r in reqs]


def is_complete(entry: dict | None, folder: Path, fingerprint: str) -> bool:
    """True when a manifest entry is done, made from the same request, and every file is whole."""
    if not entry or entry.get("status") != "done" or entry.get("fingerprint") != fingerprint:
        return False
    for name, info in entry.get("files", {}).items():
        p = folder / name
        if not p.is_file() or p.stat().st_size != info["bytes"] or sha256_file(p) != info["sha256"]:
            return False
    return bool(entry.get("files"))


def _clean_partials(out: Path) -> None:
    for p in list(out.glob("*/.*.partial*")) + list(out.glob("*/.*.tmp")) + list(out.glob(".*.tmp")):
        p.unlink(missing_ok=True)


def generate(spec: Path, options: GenerateOptions) -> tuple[dict, int]:
    """Run a spec. Returns the manifest and the exit code (0 only when every avatar was made)."""
    from tqdm import tqdm

    bad = [f for f in options.formats if f not in FORMATS]
    if bad or not options.formats:
        raise SpecError([f"--formats: {', '.join(bad) or '(none)'} not known; allowed: {', '.join(FORMATS)}"])
    if options.rig not in RIG_NAMES:
        raise SpecError([f"--rig {options.rig!r}: allowed {', '.join(RIG_NAMES)}"])
    from pipeline.bone_names import NAME_SETS

    if options.names not in NAME_SETS:
        raise SpecError([f"--names {options.names!r}: allowed {', '.join(NAME_SETS)}"])
    if options.preview_engine not in PREVIEW_ENGINES:
        raise SpecError([f"--preview-engine {options.preview_engine!r}: allowed {', '.join(PREVIEW_ENGINES)}"])
    if options.texture_size not in TEXTURE_SIZES:
        raise SpecError([f"--texture-size {options.texture_size}: allowed {', '.join(map(str, TEXTURE_SIZES))}"])
    if options.workers < 1:
        raise SpecError([f"--workers {options.workers}: must be at least 1"])
    t_start = time.perf_counter()
    requests, failures = load_spec(spec)
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    _clean_partials(out)
    previous: dict = {}
    if options.resume and (out / "manifest.json").exists():
        try:
            previous = json.loads((out / "manifest.json").read_text()).get("avatars", {})
        except (json.JSONDecodeError, OSError):
            previous = {}
    manifest: dict = {"spec": str(spec), "versions": tool_versions(), "rig": options.rig, "names": options.names,
                      "formats": list(options.formats), "avatars": {}}
    for label, problems in failures:
        manifest["avatars"][label] = {"status": "failed", "error": problems, "files": {}}
        for p in problems:
            print(p, file=sys.stderr)
    todo = []
    for req in requests:
        entry = previous.get(req.name)
        if options.resume and is_complete(entry, out / req.name, request_fingerprint(req, options)):
            manifest["avatars"][req.name] = {**entry, "resumed": True}
        else:
            todo.append(req)
    if options.resume:
        options.echo(f"resume: {len(requests) - len(todo)} avatars already made, {len(todo)} to make")
    atomic_write_json(out / "manifest.json", manifest)

    def record(name: str, entry: dict) -> None:
        manifest["avatars"][name] = entry
        for line in entry.get("error") or []:
            print(line, file=sys.stderr)
        for w in entry.get("warnings") or []:
            print(f"warning: {w}", file=sys.stderr)
        atomic_write_json(out / "manifest.json", manifest)

    bar = tqdm(total=len(todo), desc="avatars", unit="avatar", disable=not todo or not sys.stderr.isatty())
    if options.workers == 1 or len(todo) <= 1:
        for req in todo:
            name, entry = _safe_make(req, options)
            record(name, entry)
            bar.update(1)
            if entry["status"] == "done":
                m = entry["measurements"]
                options.echo(f"  {name:16s} {m['stature_cm']:6.1f} cm {m['mass_kg']:6.1f} kg -> {out / name}")
    else:
        import multiprocessing as mp

        chunks = [todo[i::options.workers] for i in range(options.workers)]
        with ProcessPoolExecutor(max_workers=options.workers, mp_context=mp.get_context("spawn")) as pool:
            quiet = dataclasses.replace(options, echo=_silent)  # lambdas do not pickle into workers
            futures = [pool.submit(_worker, c, quiet) for c in chunks if c]
            for fut in as_completed(futures):
                for name, entry in fut.result():
                    record(name, entry)
                    bar.update(1)
    bar.close()
    _contact_sheet(out, [r.name for r in requests], manifest)
    manifest["timings_s"] = {"total": round(time.perf_counter() - t_start, 3)}
    atomic_write_json(out / "manifest.json", manifest)
    failed = [k for k, v in manifest["avatars"].items() if v["status"] != "done"]
    return manifest, (1 if failed else 0)


def _contact_sheet(out: Path, names: list[str], manifest: dict) -> None:
    from PIL import Image

    from pipeline.files import atomic_save_png
    from pipeline.preview import contact_sheet

    images, labels = [], []
    for n in names:
        entry = manifest["avatars"].get(n, {})
        p = out / n / "preview.png"
        if entry.get("status") == "done" and p.exists():
            m = entry.get("measurements", {})
            images.append(Image.open(p).convert("RGB"))
            labels.append(f"{n} {m.get('stature_cm', 0):.0f} cm {m.get('mass_kg', 0):.0f} kg")
    if images:
        atomic_save_png(out / "contact_sheet.png", contact_sheet(images, labels, columns=min(len(images), 6)))
