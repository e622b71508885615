"""Cycles and EEVEE renders read back as float arrays: the colour and the auxiliary passes (bpy only here).

Compositor nodes (``compat.compositor_tree``: a node group from 5.0, the scene's own tree before) route the Render
Layers outputs into a File Output node that writes one 32-bit EXR per pass into a temporary folder, and put the
scene's compositing back afterwards; OpenEXR reads them back (Blender 5.0's multilayer render output keeps only the
combined pass, its File Output node writes every input). Passes, in the scene's linear colour space:

- ``color`` (H, W, 4): the combined image, premultiplied RGBA (film transparent), denoised when asked;
- ``albedo`` (H, W, 3): Cycles' diffuse colour pass (subsurface included);
- ``normal`` (H, W, 3): world-space shading normals (zero off the body);
- ``depth`` (H, W): distance along the camera axis in metres (1e10 off the body);
- ``alpha`` (H, W): coverage.

EEVEE renders (``EeveeSettings``) give the colour only: comic avatars draw through Shader-to-RGB and emission there,
so their passes come from Cycles, which renders the same material's matte output (the comic albedo).

CPU seconds are this process's user + system time over the render (``getrusage``: Cycles' and OIDN's threads
included), the measure by which renders of different settings are compared.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import bpy
import numpy as np

from pipeline.blender.compat import compositor_tree, engine_id, exr_file_output, render_layer_output
from pipeline.blender.export import quiet_stdout
from pipeline.core.cpu_time import cpu_seconds

PASS_SOCKETS = {"color": "Image", "alpha": "Alpha", "albedo": "Diffuse Color", "normal": "Normal", "depth": "Depth"}
PASS_CHANNELS = {"color": "RGBA", "alpha": "R", "albedo": "RGB", "normal": "RGB", "depth": "R"}
DENOISE_QUALITIES = ("FAST", "BALANCED", "HIGH")
TREE_NAME = "avatar_passes"


@dataclasses.dataclass(frozen=True)
class CyclesSettings:
    """One Cycles render. ``denoise``: OIDN quality (FAST, BALANCED, HIGH) or None; ``bounces``: maximum light
    bounces (0: direct light only); ``seed``: the sampling seed (any integer, taken modulo 2^31 - 1, the range
    Cycles accepts); ``threads``: 0 for Blender's automatic count; ``unlit``: lights and world switched off for the
    render (the albedo, normal, depth and alpha passes do not depend on light: the same values, about a fifth less
    time)."""

    width: int
    height: int
    samples: int
    denoise: str | None = None
    bounces: int = 4
    seed: int = 0
    threads: int = 0
    unlit: bool = False

    def __post_init__(self) -> None:
        if self.denoise is not None and self.denoise not in DENOISE_QUALITIES:
            raise ValueError(f"denoise {self.denoise!r}: allowed {', '.join(DENOISE_QUALITIES)} or None")
        if self.samples < 1 or min(self.width, self.height) < 1:
            raise ValueError(f"samples and size must be at least 1, got {self.samples}, {self.width}x{self.height}")


@dataclasses.dataclass(frozen=True)
class EeveeSettings:
    """One EEVEE render (colour only): ``samples`` temporal anti-aliasing samples per pixel. EEVEE draws through
    OpenGL (Mesa's llvmpipe here, whose threads count in the CPU seconds like Cycles' do)."""

    width: int
    height: int
    samples: int

    def __post_init__(self) -> None:
        if self.samples < 1 or min(self.width, self.height) < 1:
            raise ValueError(f"samples and size must be at least 1, got {self.samples}, {self.width}x{self.height}")


def _configure(scene: Any, s: CyclesSettings | EeveeSettings) -> None:
    render = scene.render
    render.resolution_x, render.resolution_y, render.resolution_percentage = s.width, s.height, 100
    render.film_transparent = True
    render.use_compositing = True
    scene.view_settings.view_transform = "Standard"
    if isinstance(s, EeveeSettings):
        render.engine = engine_id("eevee")
        scene.eevee.taa_render_samples = s.samples
        return
    render.engine = engine_id("cycles")
    render.threads_mode = "FIXED" if s.threads > 0 else "AUTO"
    if s.threads > 0:
        render.threads = s.threads
    cy = scene.cycles
    cy.device = "CPU"
    cy.samples = s.samples
    cy.seed = s.seed % (2**31 - 1)
    cy.max_bounces = s.bounces
    cy.use_denoising = s.denoise is not None
    if s.denoise is not None:
        cy.denoiser = "OPENIMAGEDENOISE"
        cy.denoising_quality = s.denoise
        cy.denoising_input_passes = "RGB_ALBEDO_NORMAL"


def _pass_tree(scene: Any, passes: Sequence[str], folder: Path) -> Any:
    """Compositor nodes writing ``passes`` as EXR files ``<folder>/pass_<name>*.exr``; returns the function that
    puts the scene's compositing back as it was."""
    vl = scene.view_layers[0]
    vl.use_pass_combined = True
    vl.use_pass_z = "depth" in passes
    vl.use_pass_normal = "normal" in passes
    vl.use_pass_diffuse_color = "albedo" in passes
    tree, restore = compositor_tree(scene, TREE_NAME)
    layers = tree.nodes.new("CompositorNodeRLayers")
    layers.scene, layers.layer = scene, vl.name  # not the context's scene: a caller may render another one
    inputs = exr_file_output(tree, str(folder), "pass_",
                             {n: "FLOAT" if n in ("alpha", "depth") else "RGBA" for n in passes})
    for name in passes:
        tree.links.new(render_layer_output(layers, PASS_SOCKETS[name]), inputs[name])
    return restore


@contextlib.contextmanager
def _lights_off(scene: Any, off: bool) -> Iterator[None]:
    """Lights hidden from the render and the world's strength at 0 while inside (``off``), restored after."""
    if not off:
        yield
        return
    lights = [o for o in scene.objects if o.type == "LIGHT" and not o.hide_render]
    bg = scene.world.node_tree.nodes.get("Background") if scene.world and scene.world.node_tree else None
    strength = bg.inputs["Strength"].default_value if bg is not None else None
    try:
        for o in lights:
            o.hide_render = True
        if bg is not None:
            bg.inputs["Strength"].default_value = 0.0
        yield
    finally:
        for o in lights:
            o.hide_render = False
        if bg is not None:
            bg.inputs["Strength"].default_value = strength


def _read_exr(path: Path, channels: str) -> np.ndarray:
    import OpenEXR

    with OpenEXR.File(str(path), separate_channels=True) as f:
        ch = f.channels()
        # Blender 4.x names a float input's one channel V and a vector input's channels X, Y, Z
        older = {"R": "V", "RGB": "XYZ"}.get(channels, channels)
        channels = channels if all(c in ch for c in channels) else older
        planes = [np.asarray(ch[c].pixels, dtype=np.float32) for c in channels]
    return planes[0] if len(planes) == 1 else np.stack(planes, axis=-1)


@contextlib.contextmanager
def kept_output(scene: Any) -> Iterator[None]:
    """The scene's render engine and output size (resolution and percentage) as they were before, whatever the
    body changed or raised."""
    render = scene.render
    kept = (render.engine, render.resolution_x, render.resolution_y, render.resolution_percentage)
    try:
        yield
    finally:
        render.engine, render.resolution_x, render.resolution_y, render.resolution_percentage = kept


def render_passes(scene: Any, settings: CyclesSettings | EeveeSettings, passes: Sequence[str] = ("color",)
                  ) -> tuple[dict[str, np.ndarray], float]:
    """Render the scene's camera with ``settings``; returns ({pass: float32 array}, CPU seconds of the render).

    Passes are the keys of ``PASS_SOCKETS`` (EEVEE: ``color`` and ``alpha``); arrays are top row first.
    """
    unknown = sorted(set(passes) - set(PASS_SOCKETS))
    if unknown:
        raise ValueError(f"unknown passes {', '.join(unknown)}; allowed {', '.join(PASS_SOCKETS)}")
    if isinstance(settings, EeveeSettings) and set(passes) - {"color", "alpha"}:
        raise ValueError("EEVEE renders give color and alpha; the other passes come from Cycles")
    folder = Path(tempfile.mkdtemp(prefix="avatar_passes_"))
    try:
        with kept_output(scene):  # a caller may size its next render from the scene
            _configure(scene, settings)
            engine = scene.render.engine
            restore = _pass_tree(scene, passes, folder)
            try:
                t0 = cpu_seconds()
                with quiet_stdout(), _lights_off(scene, getattr(settings, "unlit", False)):
                    bpy.ops.render.render(write_still=False, scene=scene.name)
                spent = cpu_seconds() - t0
            finally:
                restore()
        out = {}
        for name in passes:
            files = sorted(folder.glob(f"pass_{name}*.exr"))
            if not files:
                raise RuntimeError(f"{engine} wrote no {name} pass")
            out[name] = _read_exr(files[0], PASS_CHANNELS[name])
        return out, spent
    finally:
        shutil.rmtree(folder, ignore_errors=True)
