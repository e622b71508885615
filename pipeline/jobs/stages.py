"""The stages of an avatar job, each with explicit inputs and outputs (``job.make_avatar`` runs them in order).

decode (torch: decoder + refinement) -> texture (torch: albedo, normal and roughness maps) -> stylise (torch:
the comic style's albedo, for comic avatars) -> assemble (numpy:
AvatarData for a rig and an export target's influences) -> GLB (numpy writer) -> build (Blender scene, only for
FBX, USD and Blender previews) -> export (Blender's exporters) -> preview (pyrender, or Blender's EEVEE/Cycles)
-> record (``avatar.json``). The add-on and the decode worker
call the same functions.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.core.anthropometry import MEASUREMENT_KEYS
from pipeline.core.assembly import assemble, avatar_from_batch
from pipeline.core.attributes import measurement_targets, normalise_attributes
from pipeline.core.avatar_data import AvatarData
from pipeline.core.body_model import BodyModel
from pipeline.core.comic_styles import comic_style_dirs, comic_style_for
from pipeline.core.deviations import measurement_warnings, style_warnings
from pipeline.core.export_targets import EXPORT_TARGETS
from pipeline.core.files import atomic_save_png, atomic_write_bytes
from pipeline.core.rig_names import export_names
from pipeline.core.spec import AvatarRequest
from pipeline.jobs.context import JobContext


@dataclasses.dataclass
class Decoded:
    """Decoded and refined bodies of a list of requests.

    Attributes:
        coefficients: (B, K) shape coefficients. measurements: key -> (B,) achieved values (cm, kg).
        warnings: per request, structured warnings (``pipeline.core.deviations``).
    """

    coefficients: np.ndarray
    measurements: dict[str, np.ndarray]
    warnings: list[list[dict[str, Any]]]


@dataclasses.dataclass(frozen=True)
class Textures:
    """An avatar's texture maps (``models.texture``): albedo (S, S, 3) uint8 sRGB; normal (S, S, 3) uint8
    tangent-space detail (OpenGL), None for a comic albedo; roughness (S, S) uint8, None for a comic albedo;
    base_color (4,) linear RGBA of the skin (for untextured uses); comic_style: the comic style the albedo is
    drawn in (None: realistic)."""

    albedo: np.ndarray
    normal: np.ndarray | None
    roughness: np.ndarray | None
    base_color: tuple[float, float, float, float]
    comic_style: str | None = None


def installed_comic_styles() -> tuple[str, ...]:
    """Names of the comic styles there are: shipped and the user's (``pipeline.core.comic_styles``)."""
    return tuple(comic_style_dirs())


def decode_requests(requests: list[AvatarRequest], ctx: JobContext, refine: bool = True) -> Decoded:
    """Attribute vectors -> decoder (latent from each seed) -> refinement -> achieved measurements and warnings."""
    from models.decoder.model import decode, latent_for_seed

    decoder = ctx.decoder
    values = [r.attribute_values() for r in requests]
    a, m = normalise_attributes(values)
    z = np.stack([latent_for_seed(r.seed, decoder.cfg.latent_dim) for r in requests])
    c, achieved = ctx.refiner(decode(decoder, a, m, z), measurement_targets(values) if refine else {})
    styles = installed_comic_styles()
    warnings = [measurement_warnings(r.name, r.as_dict(), {k: v[i] for k, v in achieved.items()})
                + style_warnings(r.name, r.style, r.comic_style, styles) for i, r in enumerate(requests)]
    return Decoded(coefficients=c, measurements=achieved, warnings=warnings)


def request_meta(req: AvatarRequest, dec: Decoded, i: int = 0) -> dict[str, Any]:
    """What an avatar records about itself: the request, the achieved measurements (cm, kg, rounded to 0.01),
    the seed and the warnings (``avatar.json``, the manifest, the Blender objects' ``avatar_meta``)."""
    return {"request": req.as_dict(),
            "measurements": {k: round(float(dec.measurements[k][i]), 2) for k in MEASUREMENT_KEYS},
            "seed": req.seed, "warnings": list(dec.warnings[i])}


def texture_stage(req: AvatarRequest, ctx: JobContext, size: int) -> Textures:
    """The TextureDecoder's maps for the request (tone, age, sex, hair colour, freckles, seed) at ``size``."""
    from models.texture.infer import skin_maps, skin_request
    from models.texture.skin_optics import BLOOD_DEFAULT, melanin_for_ita, skin_linear_rgb

    sreq = skin_request(req)
    maps = skin_maps(ctx.texture_model, [sreq], size)[0]
    r, g, b = np.clip(skin_linear_rgb(melanin_for_ita(sreq.ita), BLOOD_DEFAULT), 0.0, 1.0)
    return Textures(albedo=maps.albedo, normal=maps.normal, roughness=maps.roughness,
                    base_color=(float(r), float(g), float(b), 1.0))


def stylise_stage(req: AvatarRequest, textures: Textures, ctx: JobContext) -> Textures:
    """The comic look: for ``style = "comic"`` the albedo redrawn by the comic style (``comic_style`` or the
    default) on its own palette with the colours of lips, eyebrows, nails and areolae added, so tone and regions
    stay; the skin's pore normals and roughness map are left out (a flat, matte comic surface). Realistic
    requests, or no style installed: the textures unchanged."""
    name = comic_style_for(req.style, req.comic_style, installed_comic_styles())
    if name is None:
        return textures
    from models.texture.template import own_colour_masks

    size = textures.albedo.shape[0]
    keep = own_colour_masks(size) if textures.albedo.shape[:2] == (size, size) else ()
    albedo = ctx.comic_style(name).stylise(textures.albedo, seed=req.seed, keep=keep)
    return dataclasses.replace(textures, albedo=albedo, normal=None, roughness=None, comic_style=name)


def avatar_for_request(req: AvatarRequest, body: BodyModel, dec: Decoded, i: int = 0, rig: str = "game_engine",
                       names: str = "internal", influences: int = 4, textures: Textures | None = None,
                       texture_size: int = 1024, ctx: JobContext | None = None) -> AvatarData:
    """Item ``i`` of decoded requests -> AvatarData: the rig with its export bone names, the skin pruned to
    ``influences``, the textures (made in ``ctx``, or a new context, when not given), and the request,
    measurements and warnings in ``meta``."""
    r = body.rig(rig)
    if textures is None:
        ctx = ctx or JobContext(body=body)
        textures = stylise_stage(req, texture_stage(req, ctx, texture_size), ctx)
    tex = textures
    avatar = avatar_from_batch(body, r, assemble(body, r, dec.coefficients[i: i + 1]), 0, req.name, influences,
                               base_color=np.array(tex.base_color), texture=tex.albedo,
                               meta=request_meta(req, dec, i))
    return avatar.replace(bone_names=export_names(rig, avatar.bone_names, names), normal_map=tex.normal,
                          roughness_map=tex.roughness, comic_style=tex.comic_style)


def build_stage(avatar: AvatarData, ctx: JobContext) -> tuple[Any, Any]:
    """A fresh Blender scene holding the avatar: (armature object, mesh object)."""
    from pipeline.blender.build import build_avatar, reset_scene

    reset_scene(full=not ctx.scene_ready)
    ctx.scene_ready = True
    return build_avatar(avatar)


def export_path(folder: Path, name: str, fmt: str) -> Path:
    return folder / f"{name}{EXPORT_TARGETS[fmt].suffix}"


def glb_stage(avatar: AvatarData, folder: Path, name: str) -> dict[str, Path]:
    """The GLB written from the avatar's data by the numpy writer (``formats.glb_write``; it gives what Blender's
    exporter gives for the built avatar, in a tenth of the time)."""
    from pipeline.formats.glb_write import write_glb

    return {"glb": write_glb(avatar, export_path(folder, name, "glb"))}


def export_stage(objects: tuple[Any, Any], folder: Path, name: str, fmt: str,
                 avatar: AvatarData | None = None) -> dict[str, Path]:
    """One format through Blender's exporter; USD's textures written beside the stage are returned too, and for
    the FBX presets the avatar's roughness packed for the engine and, for Unreal, its normals DirectX-style
    (``formats.engine_maps``)."""
    from pipeline.blender.export import export
    from pipeline.formats.engine_maps import ENGINE_MAPS
    from pipeline.formats.png import encode_png

    files = {fmt: export(list(objects), export_path(folder, name, fmt), fmt)}
    packed = {f"{name}_{label}.png" for maps in ENGINE_MAPS.values() for label, _, _ in maps}
    if fmt == "usd":
        files.update({f"{fmt}:{p.name}": p for p in sorted((folder / "textures").glob("*.png"))
                      if p.name not in packed})
    for label, key, pack in ENGINE_MAPS.get(fmt, ()):
        source = None if avatar is None else getattr(avatar, key)
        if source is None:
            continue
        path = folder / "textures" / f"{name}_{label}.png"
        path.parent.mkdir(exist_ok=True)
        files[f"{fmt}:{path.name}"] = atomic_write_bytes(path, encode_png(pack(source), srgb=False))
    return files


def preview_stage(avatar: AvatarData, textures: Textures, folder: Path, engine: str, ctx: JobContext,
                  built: tuple[Any, Any] | None = None, enhance: bool = False) -> dict[str, Path]:
    """preview.png and preview_side.png (relaxed arms) and, with pyrender, preview_poses.png.

    ``pyrender`` poses on the CPU and renders offscreen; ``eevee`` and ``cycles`` render the built Blender avatar
    (``built``: its armature and mesh) with its texture; comic avatars always with EEVEE. ``enhance``: a
    half-resolution render (Cycles or EEVEE) plus Cycles' passes, enhanced by the render enhancer
    (``models.enhancer``).
    """
    if engine != "pyrender":
        from pipeline.blender.render import render_previews

        assert built is not None, "Blender previews render the built avatar"
        if avatar.comic_style is not None:  # the toon material draws through Shader-to-RGB: EEVEE only
            engine = "eevee"
        still = None
        if enhance:
            from pipeline.jobs.enhancer_renders import enhanced_still

            still = enhanced_still(ctx.enhancer, ctx.threads.cycles_threads)
        return render_previews(built[0], avatar, folder, engine, threads=ctx.threads.cycles_threads, still=still)
    from PIL import Image

    from pipeline.preview.offscreen import preview_images

    images = preview_images(ctx.renderer, avatar, textures.base_color)
    names = {"front": "preview.png", "side": "preview_side.png", "poses": "preview_poses.png"}
    return {k: atomic_save_png(folder / names[k], Image.fromarray(img)) for k, img in images.items()}
