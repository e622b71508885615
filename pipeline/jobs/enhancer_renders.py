"""Renders for the render enhancer (bpy, torch and the jobs in one process): our path's passes of a camera, the
views of its data sets (``render_dataset``), enhanced previews (``enhanced_still``), and the two registry entry
points that need Blender: ``train`` (renders the training views when missing, then trains) and
``evaluate_and_report`` (renders a held-out set, our path, the references and the equal-time sweep interleaved
in this process, and scores them with ``models.enhancer.evaluate``).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np

from models.enhancer.data import (
    RenderProfile,
    avatar_mask,
    avatar_shots,
    box_half,
    camera_space,
    depth_feature,
    display,
    load_meta,
    psnr_on_mask,
    save_view,
    view_engine,
)
from pipeline.blender.passes import CyclesSettings, EeveeSettings, render_passes
from pipeline.jobs.context import JobContext


class AvatarScenes:
    """Builds each person's avatar in the Blender scene once, for the views of that person."""

    def __init__(self, ctx: JobContext | None = None) -> None:
        self.ctx = ctx or JobContext()
        self.name: str | None = None
        self.arm_obj: Any = None
        self.avatar: Any = None

    def get(self, person: dict[str, Any]) -> tuple[Any, Any]:
        """(armature object, AvatarData) of ``person`` (a spec entry), built when it is not the current one."""
        from pipeline.core.spec import parse_avatar
        from pipeline.jobs.stages import avatar_for_request, build_stage, decode_requests

        if self.name != person["name"]:
            req = parse_avatar(person)
            self.avatar = avatar_for_request(req, self.ctx.body, decode_requests([req], self.ctx), ctx=self.ctx)
            self.arm_obj, _ = build_stage(self.avatar, self.ctx)
            self.name = person["name"]
        return self.arm_obj, self.avatar


def render_inputs(scene: Any, cam_obj: Any, target_distance: float, profile: RenderProfile, seed: int,
                  width: int | None = None, height: int | None = None, threads: int = 0, engine: str = "cycles"
                  ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Our path's renders of the scene's camera ``cam_obj``: the half-resolution colour (Cycles + OIDN, or EEVEE)
    with its albedo and the full-resolution passes (Cycles, direct light only), as in ``VIEW_KEYS`` less ``ref``;
    and their CPU seconds. ``target_distance``: metres to the aimed point (the depth feature's scale). Size:
    ``profile.size`` square unless given (even)."""
    from pipeline.blender.shots import camera_rotation

    w, h = width or profile.size, height or profile.size
    aux, t_aux = render_passes(scene, CyclesSettings(w, h, profile.aux_samples, None, 0, seed, threads, unlit=True),
                               ("albedo", "normal", "depth", "alpha"))
    if engine == "eevee":
        low, t_low = render_passes(scene, EeveeSettings(w // 2, h // 2, profile.eevee_low_samples), ("color",))
        low["albedo"] = box_half(aux["albedo"])
    else:
        low, t_low = render_passes(scene, CyclesSettings(w // 2, h // 2, profile.low_samples, profile.low_denoise,
                                                         profile.bounces, seed, threads), ("color", "albedo"))
    view = {"low": low["color"], "low_albedo": low["albedo"], "albedo": aux["albedo"],
            "normal": camera_space(aux["normal"], camera_rotation(cam_obj)),
            "depth": depth_feature(aux["depth"], aux["alpha"], target_distance), "alpha": aux["alpha"]}
    return view, {"low": t_low, "aux": t_aux}


def reference_settings(profile: RenderProfile, engine: str, seed: int, threads: int = 0, finer: bool = False
                       ) -> CyclesSettings | EeveeSettings:
    """The full-resolution reference render of a view; ``finer``: the one its convergence is checked against
    (Cycles: another sampling seed; EEVEE, whose sampling has no seed: twice the samples)."""
    s = profile.size
    if engine == "eevee":
        return EeveeSettings(s, s, profile.eevee_ref_samples * (2 if finer else 1))
    return CyclesSettings(s, s, profile.ref_samples, profile.ref_denoise, profile.bounces,
                          seed + (500 if finer else 0) + 7919, threads)


def render_view(scene: Any, arm_obj: Any, avatar: Any, shot: Any, profile: RenderProfile, seed: int, engine: str,
                reference: bool = True, threads: int = 0, check: bool = False
                ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """The low, aux and (``reference``) ref renders of one shot: arrays as in ``VIEW_KEYS`` (float32) and the
    CPU seconds of each render; the colour with ``engine`` (``view_engine`` of the avatar's style). ``check``:
    also the finer reference (``reference_settings``), as ``ref_check``."""
    from pipeline.blender.shots import apply_shot, clear_shot

    cam = apply_shot(scene, arm_obj, avatar, shot)
    try:
        dist = float(np.linalg.norm(np.subtract(shot.eye, shot.target)))
        view, seconds = render_inputs(scene, cam, dist, profile, seed, threads=threads, engine=engine)
        if reference:
            ref, seconds["ref"] = render_passes(scene, reference_settings(profile, engine, seed, threads), ("color",))
            view["ref"] = ref["color"]
        if check:
            ref, _ = render_passes(scene, reference_settings(profile, engine, seed, threads, finer=True), ("color",))
            view["ref_check"] = ref["color"]
        return view, seconds
    finally:
        clear_shot(scene, arm_obj, avatar)


def _up_to_date(path: Path, engine: str, profile: RenderProfile) -> bool:
    """Whether a cached view was rendered with ``engine`` and ``profile`` (else it is rendered again)."""
    meta = load_meta(path)
    # settings added since a view was written take their defaults
    return meta.get("engine", "cycles") == engine and RenderProfile(**meta.get("profile", {})) == profile


def render_dataset(out: Path, n_views: int, seed: int, profile: RenderProfile | None = None,
                   minutes: float | None = None, reference_check: int = 0, comic_check: bool = False,
                   progress: bool = True) -> dict[str, Any]:
    """Render ``n_views`` views into ``out`` (resuming), within ``minutes`` when given.

    ``reference_check``: for that many views, and (``comic_check``) for the first comic view rendered, a finer
    reference (``reference_settings``) is rendered and the PSNR between the two on the avatar is recorded (how
    converged the references are).
    Returns a summary (views written, seconds, reference agreement).
    """
    from pipeline.blender.shots import current_scene
    from pipeline.core.shots import sample_shot

    profile = profile or RenderProfile()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    scenes = AvatarScenes()
    t0 = time.monotonic()
    written, agreement, checked_comic = 0, [], False
    plan = avatar_shots(n_views, seed)
    for person, kind, i in plan:
        path = out / f"view_{i:05d}.npz"
        engine = view_engine(person.get("style"))
        if path.exists() and _up_to_date(path, engine, profile):
            continue
        if minutes is not None and time.monotonic() - t0 > minutes * 60.0:
            break
        arm_obj, avatar = scenes.get(person)
        rng = np.random.default_rng([seed, i, 2])
        shot = sample_shot(avatar, rng, kind)
        check = i < reference_check or (comic_check and engine == "eevee" and not checked_comic)
        view, seconds = render_view(current_scene(), arm_obj, avatar, shot, profile, seed * 1000 + i, engine,
                                    check=check)
        if check:
            agreement.append({"view": i, "engine": engine, "psnr_avatar_db": psnr_on_mask(
                display(view["ref"]), display(view.pop("ref_check")), avatar_mask(view["alpha"]))})
            checked_comic = checked_comic or engine == "eevee"
        meta = {"person": person, "shot": dataclasses.asdict(shot), "cpu_seconds": seconds, "engine": engine,
                "profile": dataclasses.asdict(profile), "seed": seed, "index": i}
        save_view(path, view, meta)
        written += 1
        if progress:
            print(f"view {i + 1}/{n_views} {kind:4s} {person['name']} cpu " +
                  " ".join(f"{k} {v:.1f}s" for k, v in seconds.items()) +
                  f" elapsed {time.monotonic() - t0:.0f}s", flush=True)
    return {"written": written, "views": len(list(out.glob("view_*.npz"))), "seconds": time.monotonic() - t0,
            "reference_agreement": agreement}


def passes_still(threads: int = 0, enhance: Any = None) -> Any:
    """A still renderer for ``pipeline.blender.render.render_previews``: the scene's engine (Cycles with OIDN, or
    EEVEE) at half resolution plus the full-resolution passes of the scene's camera, kept in ``passes_path``
    (``avatar enhance`` reads them) and, with ``enhance`` (passes -> (H, W, 3) uint8), enhanced into the PNG
    ``path``; without it the PNG is left to a later ``avatar enhance`` (the add-on's worker)."""
    from PIL import Image

    from pipeline.blender.render import CAMERA_DISTANCE_M
    from pipeline.core.files import atomic_save_png

    def still(scene: Any, cam_obj: Any, path: Path, passes_path: Path) -> Path:
        render = scene.render
        engine = "cycles" if render.engine == "CYCLES" else "eevee"
        view, seconds = render_inputs(scene, cam_obj, CAMERA_DISTANCE_M, RenderProfile(), seed=0,
                                      width=render.resolution_x, height=render.resolution_y, threads=threads,
                                      engine=engine)
        # enhanced from the passes as stored (float16), so `avatar enhance` on them gives the same bytes
        view = {k: v.astype(np.float16).astype(np.float32) for k, v in view.items()}
        save_view(passes_path, view, {"cpu_seconds": seconds, "engine": engine})
        return path if enhance is None else atomic_save_png(path, Image.fromarray(enhance(view)))

    return still


def enhanced_still(enhancer: Any, threads: int = 0) -> Any:
    """``passes_still`` enhancing each view with ``enhancer`` (a RenderEnhancer) in this process."""
    from models.enhancer.infer import enhance_view

    return passes_still(threads, lambda view: enhance_view(enhancer, view))


def train(out_dir: Path, cfg: Any = None, progress: bool = True) -> dict[str, Any]:
    """``avatar train enhancer``: render the training views the cache lacks or holds from other render settings
    (``cfg.render_minutes``), then train (``models.enhancer.train``)."""
    from models.enhancer.train import TrainConfig, views_dir
    from models.enhancer.train import train as train_networks

    cfg = cfg or TrainConfig()
    folder = views_dir(cfg.data_seed, cfg.profile.size)
    summary = render_dataset(folder, cfg.n_views, cfg.data_seed, cfg.profile, cfg.render_minutes,
                             reference_check=2, comic_check=True, progress=progress)
    return train_networks(out_dir, cfg, progress, render_summary=summary)


def evaluate(weights: Path | None = None, seed: int | None = None, n: int | None = None,
             samples: tuple[int, ...] | None = None, qualities: tuple[str, ...] | None = None,
             eevee_samples: tuple[int, ...] | None = None, comic_every: int | None = None, keep_images: int = 3,
             progress: bool = True) -> dict[str, Any]:
    """Render ``n`` held-out views from ``seed`` and score every row (``models.enhancer.evaluate``): the sweep
    renders Cycles at ``samples`` x ``qualities`` and EEVEE at ``eevee_samples``; every ``comic_every``-th person
    is a comic avatar (defaults: the evaluation's)."""
    from models.enhancer import evaluate as ev
    from models.enhancer.model import RenderEnhancer, training_record
    from pipeline.blender.shots import apply_shot, clear_shot, current_scene, image_points
    from pipeline.core.shots import sample_shot

    seed = ev.DEFAULT_SEED if seed is None else seed
    n = ev.DEFAULT_N if n is None else n
    samples, qualities = samples or ev.SWEEP_SAMPLES, qualities or ev.SWEEP_QUALITIES
    eevee_samples = eevee_samples or ev.EEVEE_SAMPLES
    record = training_record(weights)
    if int(record.get("data_seed", -1)) == seed:
        raise ValueError(f"seed {seed} is the training data's seed; choose another")
    enhancer, colour_only = RenderEnhancer.load(weights), RenderEnhancer.load(weights, aux=False)
    profile = RenderProfile(**record["profile"])
    scenes, tally, t0 = AvatarScenes(), ev.Tally(), time.monotonic()
    for person, kind, i in avatar_shots(n, seed, comic_every=comic_every or ev.COMIC_EVERY):
        arm_obj, avatar = scenes.get(person)
        shot = sample_shot(avatar, np.random.default_rng([seed, i, 2]), kind)
        scene = current_scene()
        engine = view_engine(person.get("style"))
        view, secs = render_view(scene, arm_obj, avatar, shot, profile, seed * 1000 + i, engine)
        rows, images, t_net = ev.score_view(view, enhancer, colour_only)
        tally.add(kind, engine, rows, secs["low"] + secs["aux"] + t_net)
        ref, mask = images["reference"], images["mask"]
        keep = sum(e == engine for e in tally.kept) < (keep_images if engine == "cycles" else 1)
        cam = apply_shot(scene, arm_obj, avatar, shot)
        try:
            if keep:
                images["points"] = image_points(scene, cam, arm_obj, avatar, (profile.size, profile.size))
                images["sweep"] = {}
            sweep = ([("EEVEE", spp, EeveeSettings(profile.size, profile.size, spp)) for spp in eevee_samples]
                     if engine == "eevee" else
                     [(q, spp, CyclesSettings(profile.size, profile.size, spp, q, profile.bounces,
                                              seed * 1000 + i + 333)) for q in qualities for spp in samples])
            for q, spp, settings in sweep:
                full, t = render_passes(scene, settings)
                img = display(full["color"])
                tally.sweep.setdefault((q, spp), []).append((t, psnr_on_mask(img, ref, mask)))
                if keep:
                    images["sweep"][(q, spp)] = img
        finally:
            clear_shot(scene, arm_obj, avatar)
        if keep:
            tally.images.append({**images, "engine": engine})
            tally.kept.append(engine)
        if progress:
            print(f"view {i + 1}/{n} {kind:4s} {engine:6s} our path {tally.ours_cpu[-1]:.1f} CPU s; PSNR on the "
                  f"avatar: enhancer {rows['enhancer']['psnr_avatar']:.2f} dB, demodulated bicubic "
                  f"{rows['demodulated bicubic']['psnr_avatar']:.2f} dB ({time.monotonic() - t0:.0f} s)", flush=True)
    return ev.summarise(tally, seed, profile, time.monotonic() - t0)


def evaluate_and_report(weights: Path | None = None, seed: int | None = None, n: int | None = None,
                        out: Path | None = None) -> dict[str, Any]:
    """``avatar evaluate enhancer``: evaluate, print, and with ``out`` write report.json and report.png there."""
    from models.enhancer import evaluate as ev

    r = evaluate(weights, seed, n)
    ev.print_report(r)
    if out is not None:
        ev.write_report(r, Path(out))
    return r
