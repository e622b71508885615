"""The render enhancer's data: views rendered here with Cycles (and EEVEE for comic avatars) from generated avatars
(``pipeline.jobs.enhancer_renders`` renders them; this module holds what needs no Blender).

A view is one shot (``pipeline.core.shots``: full body, upper body or face; pose; sun, sky and area light) of one
avatar (a person drawn from the population, a random skin tone, realistic or comic albedo), rendered three ways
with the same render settings (``RenderProfile``):

- **low**: half resolution, ``low_samples`` per pixel, denoised by OIDN: the colour the enhancer starts from,
  with its diffuse-colour pass (free in that render);
- **aux**: full resolution, ``aux_samples``, direct light only: albedo, camera-space normal, depth, alpha;
- **ref**: full resolution, ``ref_samples``, OIDN: the reference.

Comic avatars (``view_engine``) render low and ref with EEVEE (``eevee_low_samples``, ``eevee_ref_samples``) and
their ink outline; their aux passes come from Cycles (the toon material's matte output is the comic albedo) and
the low-resolution albedo is the full-resolution one averaged over 2x2 pixels.

Stored per view as ``view_NNNNN.npz`` (float16 arrays, top row first; see ``VIEW_KEYS``) with the shot, the
person, the engine and the CPU seconds of each render in ``meta`` (JSON). Rendering resumes: views already on disk
with the same engine and render settings are kept. The training set and every held-out set come from different seeds
(``avatar evaluate enhancer --seed S``).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.core.colour import srgb_to_linear
from pipeline.core.views import BACKGROUND

VIEW_KEYS = ("low", "low_albedo", "albedo", "normal", "depth", "alpha", "ref")
KIND_CYCLE = ("full", "half", "face")
COMIC_SHARE = 0.2
BACKGROUND_LINEAR = np.asarray(srgb_to_linear(np.asarray(BACKGROUND[:3])), dtype=np.float32)


@dataclasses.dataclass(frozen=True)
class RenderProfile:
    """The render settings every view uses: ``size`` (square output, pixels), samples per pixel of the three
    renders, OIDN quality of the low and reference renders, light bounces; for comic avatars, which render their
    colour with EEVEE, its temporal anti-aliasing samples of the low and reference renders."""

    size: int = 384
    low_samples: int = 16
    low_denoise: str = "HIGH"
    aux_samples: int = 4
    ref_samples: int = 128
    ref_denoise: str = "HIGH"
    bounces: int = 4
    eevee_low_samples: int = 2
    eevee_ref_samples: int = 32


def view_engine(style: str | None) -> str:
    """The engine a view's colour renders with: EEVEE for comic avatars (their toon material draws there), Cycles
    for the others."""
    return "eevee" if style == "comic" else "cycles"


def box_half(a: np.ndarray) -> np.ndarray:
    """(H, W, C) -> (H/2, W/2, C): the mean of each 2x2 block (a pass at half resolution, as a renderer's pixel
    filter would average it)."""
    h, w = a.shape[0] // 2 * 2, a.shape[1] // 2 * 2
    a = a[:h, :w]
    return a.reshape(h // 2, 2, w // 2, 2, *a.shape[2:]).mean(axis=(1, 3)).astype(np.float32)


def display(rgba: np.ndarray) -> np.ndarray:
    """Premultiplied linear RGBA (..., 4) over the preview background -> display sRGB (..., 3) in [0, 1]."""
    from pipeline.core.colour import linear_to_srgb

    rgb = rgba[..., :3] + (1.0 - rgba[..., 3:4]) * BACKGROUND_LINEAR
    return np.clip(linear_to_srgb(np.clip(rgb, 0.0, None)), 0.0, 1.0).astype(np.float32)


def camera_space(normal: np.ndarray, world_from_cam: np.ndarray) -> np.ndarray:
    """World-space normals (H, W, 3) -> camera space (x right, y up, z toward the camera)."""
    return (normal @ world_from_cam).astype(np.float32)


def depth_feature(depth: np.ndarray, alpha: np.ndarray, target_distance: float) -> np.ndarray:
    """Depth (H, W) in metres -> relative to the distance of the aimed point, clipped to [-1, 1]; 1 off the
    body."""
    rel = np.where(alpha > 0.0, depth / max(target_distance, 1e-3) - 1.0, 1.0)
    return np.clip(rel, -1.0, 1.0).astype(np.float32)


def people(n: int, seed: int, comic_every: int | None = None) -> list[dict[str, Any]]:
    """n spec entries: the population's people with a random tone (ITA -60..70), comic at random
    (``COMIC_SHARE``) or, with ``comic_every``, exactly every ``comic_every``-th one (a fixed mix)."""
    from pipeline.core.population import sample_people

    rng = np.random.default_rng([seed, 1])
    out = []
    for i, p in enumerate(sample_people(n, seed)):
        entry = {**p, "skin_ita": round(float(rng.uniform(-60.0, 70.0)), 1)}
        comic = rng.random() < COMIC_SHARE
        if comic_every is not None:
            comic = i % comic_every == comic_every - 1
        if comic:
            entry["style"] = "comic"
        out.append(entry)
    return out


def save_view(path: Path, view: dict[str, np.ndarray], meta: dict[str, Any]) -> Path:
    """A view as a compressed ``.npz`` of float16 arrays plus ``meta`` as JSON bytes (atomically)."""
    import io

    from pipeline.core.files import atomic_write_bytes

    buf = io.BytesIO()
    np.savez_compressed(buf, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
                        **{k: v.astype(np.float16) for k, v in view.items()})
    return atomic_write_bytes(path, buf.getvalue())


def _meta(z: Any) -> dict[str, Any]:
    return json.loads(z["meta"].tobytes().decode()) if "meta" in z.files else {}


def load_view(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """A view written by ``save_view``: float32 arrays and its meta (no pickles)."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k].astype(np.float32) for k in VIEW_KEYS if k in z}, _meta(z)


def load_meta(path: Path) -> dict[str, Any]:
    """Only the meta of a view written by ``save_view`` (its arrays are not read)."""
    with np.load(path, allow_pickle=False) as z:
        return _meta(z)


def avatar_shots(n_views: int, seed: int, views_per_avatar: int = 3, comic_every: int | None = None
                 ) -> list[tuple[dict[str, Any], str, int]]:
    """(person, shot kind, view index) for ``n_views`` views, ``views_per_avatar`` shots per person cycling
    through full, half and face; ``comic_every`` as in ``people``."""
    persons = people((n_views + views_per_avatar - 1) // views_per_avatar, seed, comic_every)
    return [(persons[i // views_per_avatar], KIND_CYCLE[i % len(KIND_CYCLE)], i) for i in range(n_views)]


def avatar_mask(alpha: np.ndarray, dilate: int = 3) -> np.ndarray:
    """The avatar's pixels (H, W) bool: coverage above 0.5, dilated by ``dilate`` pixels (its edges count)."""
    from scipy.ndimage import binary_dilation

    return binary_dilation(alpha > 0.5, iterations=dilate)


def psnr_on_mask(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR in dB between two display images (H, W, 3) in [0, 1], over ``mask`` (H, W) or the whole frame."""
    d = (a - b) ** 2
    mse = float(d[mask].mean()) if mask is not None else float(d.mean())
    return float(10.0 * np.log10(1.0 / max(mse, 1e-12)))
