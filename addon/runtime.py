"""What the operators do, as plain functions over the project's packages (imported when an operator runs).

Every step calls the functions ``pipeline/run.py`` uses: ``core.spec.parse_avatar`` (validation and messages),
``jobs.stages.decode_requests`` (decoder + refinement; in this process or through ``pipeline.jobs.decode_worker``),
``jobs.stages.avatar_for_request`` (assembly, albedo, bone names), ``blender.build.build_avatar`` /
``update_avatar`` and ``blender.export.export``. The body data and weights are the ones the ``pipeline`` package
finds (``pipeline.core.resources``): in the extension, those of its bundled wheel.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import select
import subprocess
import tempfile
from pathlib import Path
from typing import Any

WORKER_TIMEOUT_S = 600


class AddonError(RuntimeError):
    """A problem to show the user as it is (one line per problem)."""


@functools.lru_cache(maxsize=1)
def job_context() -> Any:
    """This Blender session's job resources (body model; the decoder when torch runs here), made once."""
    from pipeline.jobs.context import JobContext

    return JobContext()


def body_model() -> Any:
    return job_context().body


def parse_entry(entry: dict[str, Any]) -> Any:
    """Validate a spec entry; AddonError with the pipeline's own messages (avatar, field, value, range)."""
    from pipeline.core.spec import SpecError, parse_avatar

    try:
        return parse_avatar(entry)
    except SpecError as exc:
        raise AddonError("; ".join(exc.problems)) from None


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def uses_worker(prefs: Any) -> bool:
    if prefs.torch_mode == "WORKER":
        return True
    if prefs.torch_mode == "BLENDER":
        if not torch_available():
            raise AddonError("preferences ask for decoding in Blender's Python, but torch is not importable "
                             "there; choose 'Automatic' or 'Worker process'")
        return False
    return not torch_available()


def worker_python(prefs: Any) -> str:
    """The worker's Python: the preference, else $AVATAR_WORKER_PYTHON, else the checkout's .venv. A path that is
    set but is not an executable file is an error naming it (never silently replaced by another interpreter)."""
    for origin, value in (("Preferences > Worker Python", bpy_abspath(prefs.worker_python) if prefs.worker_python
                           else ""), ("$AVATAR_WORKER_PYTHON", os.environ.get("AVATAR_WORKER_PYTHON", ""))):
        if value:
            if Path(value).is_file() and os.access(value, os.X_OK):
                return value
            raise AddonError(f"{origin} is {value!r}, which is not an executable file: set it to the project's "
                             ".venv/bin/python (created by `make install`)")
    spec = importlib.util.find_spec("pipeline")
    if spec is not None and spec.origin:
        venv = Path(spec.origin).resolve().parents[1] / ".venv" / "bin" / "python"
        if venv.is_file() and os.access(venv, os.X_OK):
            return str(venv)
    raise AddonError("no worker Python found: set Preferences > Add-ons > Avatar Pipeline > Worker Python to "
                     "the project's .venv/bin/python (created by `make install`)")


def decode(requests: list[Any], prefs: Any, refine: bool = True, textures: dict[str, Any] | None = None) -> Any:
    """Decoded bodies (``pipeline.jobs.stages.Decoded``) in this process or in the worker; with ``textures``
    ({"size", "dir"}, worker only) also the worker's map files: (Decoded, [files per request])."""
    from pipeline.jobs.stages import Decoded, decode_requests

    if not uses_worker(prefs):
        return decode_requests(requests, job_context(), refine)
    import numpy as np

    out = _ask_worker(worker_python(prefs), json.dumps({"requests": [r.as_dict() for r in requests],
                                                        "refine": refine, "textures": textures}))
    if "error" in out:
        raise AddonError("; ".join(out["error"]))
    if out.get("body_sha256") != _body_sha256(job_context().body.asset_dir):
        raise AddonError("the worker's body data differs from the add-on's (their coefficients would not match): "
                         "rebuild and reinstall the extension with `make addon` from the worker's checkout")
    dec = Decoded(coefficients=np.asarray(out["coefficients"], dtype=np.float64),
                  measurements={k: np.asarray(v, dtype=np.float64) for k, v in out["measurements"].items()},
                  warnings=out["warnings"])
    return (dec, out["textures"]) if textures else dec


_WORKERS: dict[str, tuple[subprocess.Popen, Path]] = {}


def _ask_worker(python: str, payload: str) -> dict[str, Any]:
    """One request to the long-running worker of ``python`` (started on first use, restarted if it died)."""
    proc, log = _WORKERS.get(python, (None, Path()))
    if proc is None or proc.poll() is not None:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        log = Path(tempfile.gettempdir()) / f"avatar_decode_worker_{os.getpid()}.log"
        with open(log, "w") as err:  # stderr to a file: a full pipe would block the worker
            proc = subprocess.Popen([python, "-m", "pipeline.jobs.decode_worker", "--serve"], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=err, text=True, env=env)
        _WORKERS[python] = (proc, log)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(payload + "\n")
        proc.stdin.flush()
    except BrokenPipeError:
        pass  # it died: reported below with its log
    ready, _, _ = select.select([proc.stdout], [], [], WORKER_TIMEOUT_S)
    line = proc.stdout.readline() if ready else ""
    if not line:
        proc.kill()
        _WORKERS.pop(python, None)
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
        why = f"did not answer within {WORKER_TIMEOUT_S} s" if not ready else "stopped"
        raise AddonError(f"the decode worker ({python}) {why}: {tail[0] if tail else 'no output'}")
    return json.loads(line)


def stop_workers() -> None:
    """End the decode workers (the add-on's unregister calls this)."""
    for proc, _ in _WORKERS.values():
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    _WORKERS.clear()


@functools.lru_cache(maxsize=4)
def _body_sha256(asset_dir: Path) -> str:
    from pipeline.core.resources import body_data_sha256

    return body_data_sha256(asset_dir)


def make_avatar_data(entry: dict[str, Any], prefs: Any, rig: str, names: str, influences: int = 4,
                     progress: Any = None, texture_size: int | None = None) -> Any:
    """Spec entry -> AvatarData (validated, decoded, refined, assembled, textured; ``texture_size``: the maps'
    size, default the preferences')."""
    req = parse_entry(entry)
    step = progress or (lambda _f: None)
    step(0.1)
    size = int(texture_size or prefs.texture_size)
    if uses_worker(prefs):
        with tempfile.TemporaryDirectory(prefix="avatar_maps_") as folder:
            dec, maps = decode([req], prefs, textures={"size": size, "dir": folder})
            textures = _read_maps(maps[0])
    else:
        from pipeline.jobs.stages import stylise_stage, texture_stage

        dec = decode([req], prefs)
        step(0.5)
        textures = stylise_stage(req, texture_stage(req, job_context(), size), job_context())
    step(0.6)
    from pipeline.jobs.stages import avatar_for_request

    avatar = avatar_for_request(req, body_model(), dec, 0, rig, names, influences, textures=textures)
    step(0.8)
    return avatar


def _read_png(path: str) -> Any:
    """(H, W, C) uint8 of an 8-bit PNG, read by Blender (its Python may lack an image library)."""
    import bpy
    import numpy as np

    img = bpy.data.images.load(path, check_existing=False)
    try:
        img.colorspace_settings.name = "Non-Color"
        w, h = img.size
        px = np.empty(w * h * 4, dtype=np.float32)
        img.pixels.foreach_get(px)
    finally:
        bpy.data.images.remove(img)
    return np.flipud(np.round(px.reshape(h, w, 4) * 255.0).astype(np.uint8))


def _read_maps(files: dict[str, Any]) -> Any:
    """The worker's map files -> ``Textures``."""
    import numpy as np

    from pipeline.jobs.stages import Textures

    normal, rough = files.get("normal"), files.get("roughness")  # a comic albedo comes alone
    return Textures(albedo=np.ascontiguousarray(_read_png(files["albedo"])[..., :3]),
                    normal=None if normal is None else np.ascontiguousarray(_read_png(normal)[..., :3]),
                    roughness=None if rough is None else np.ascontiguousarray(_read_png(rough)[..., 0]),
                    base_color=tuple(float(c) for c in files["base_color"]), comic_style=files.get("comic_style"))


def avatar_armature(obj: Any) -> Any:
    """The avatar armature of a selected object (the armature itself or its skinned mesh)."""
    from pipeline.blender.build import PROP_PREFIX

    for o in (obj, getattr(obj, "parent", None)):
        if o is not None and o.type == "ARMATURE" and o.get(PROP_PREFIX + "name") is not None:
            return o
    return None


def avatar_meta(arm: Any) -> dict[str, Any]:
    from pipeline.blender.build import PROP_PREFIX

    try:
        return json.loads(arm.get(PROP_PREFIX + "meta", "{}"))
    except (TypeError, json.JSONDecodeError):
        return {}


def export_avatar(arm: Any, preset: str, path: Path) -> tuple[Path, list[str]]:
    """Export an avatar with a preset. Returns the file and warnings.

    When the format wants another number of influences (USD: 8), the skin is re-pruned from the rig's weights
    (the core ``prune_weights``) for the export and put back afterwards, but only if the vertex groups still
    hold what was built: weights painted by hand are exported as they are, never replaced (with a warning)."""
    from pipeline.blender.build import PROP_PREFIX, default_groups_unchanged, find_mesh, set_influences
    from pipeline.blender.export import export
    from pipeline.core.export_targets import EXPORT_TARGETS

    if preset not in EXPORT_TARGETS:
        raise AddonError(f"export format {preset!r}: allowed {', '.join(EXPORT_TARGETS)}")
    path = Path(bpy_abspath(str(path)))
    suffix = EXPORT_TARGETS[preset].suffix
    if not path.name.endswith(suffix):
        path = path.with_name(path.name.split(".")[0] + suffix)
    mesh = find_mesh(arm)
    body = body_model()
    before = int(arm.get(PROP_PREFIX + "influences", 4))
    k = EXPORT_TARGETS[preset].influences
    if k == before:
        return export([arm, mesh], path, preset), []
    if not default_groups_unchanged(arm, body):
        return export([arm, mesh], path, preset), [
            f"the vertex groups of {mesh.name!r} were edited: exported as they are ({before} influences per "
            f"vertex), not re-pruned to the {k} of {preset}"]
    set_influences(arm, body, k)
    try:
        return export([arm, mesh], path, preset), []
    finally:
        set_influences(arm, body, before)


PREVIEW_SCENE = "avatar_preview"


def render_preview(arm: Any, prefs: Any, engine: str, enhance: bool, folder: Path, progress: Any = None
                   ) -> dict[str, Path]:
    """preview.png and preview_side.png of the selected avatar in ``folder`` (the previews of ``avatar generate
    --preview-engine``), rendered in a scene of their own that holds only the avatar, so the user's scene, its
    camera, lights and render settings stay as they were, and so does the avatar's pose. ``enhance``: the
    engine at half resolution plus Cycles' passes (kept in ``folder/passes``), enhanced by the render enhancer
    here when torch imports, else by the worker. Returns {"front": path, "side": path, ...}."""
    import bpy

    from pipeline.blender.build import PROP_PREFIX, find_mesh
    from pipeline.blender.render import render_previews

    if engine not in ("cycles", "eevee"):
        raise AddonError(f"preview engine {engine!r}: allowed cycles, eevee")
    request = avatar_meta(arm).get("request")
    if not request:
        raise AddonError("the selected avatar carries no request to frame it by: regenerate it with Update")
    step = progress or (lambda _f: None)
    # the avatar as built, for its framing and preview pose (its maps are not used: the materials are the scene's)
    avatar = make_avatar_data(request, prefs, arm[PROP_PREFIX + "rig"], "internal", texture_size=256)
    avatar = avatar.replace(bone_names=tuple(json.loads(arm[PROP_PREFIX + "bone_names"])))  # as the rig names them
    step(0.2)
    if str(folder).startswith("//") and not bpy.data.filepath:  # relative to an unsaved file: the temp folder
        folder = Path(tempfile.gettempdir()) / str(folder)[2:]
    folder = Path(bpy_abspath(str(folder)))
    worker = enhance and uses_worker(prefs)
    still = None
    if enhance:
        from pipeline.jobs.enhancer_renders import enhanced_still, passes_still

        threads = job_context().threads.cycles_threads
        still = passes_still(threads) if worker else enhanced_still(job_context().enhancer, threads)
    scene = bpy.data.scenes.new(PREVIEW_SCENE)
    world = None
    try:
        for obj in (arm, find_mesh(arm)):
            scene.collection.objects.link(obj)
        out = render_previews(arm, avatar, folder, engine, threads=job_context().threads.cycles_threads,
                              still=still, scene=scene)
        world = scene.world
    finally:
        bpy.data.scenes.remove(scene)
        if world is not None and world.users == 0:
            bpy.data.worlds.remove(world)
    step(0.8)
    if worker:
        answer = _ask_worker(worker_python(prefs), json.dumps({"enhance": {"in": str(folder / "passes"),
                                                                           "out": str(folder)}}))
        if "error" in answer:
            raise AddonError("; ".join(answer["error"]))
    step(0.9)
    for key in ("front", "side"):
        name = f"{arm.get(PROP_PREFIX + 'name', arm.name)}_{out[key].stem}"
        old = bpy.data.images.get(name)
        if old is not None:
            bpy.data.images.remove(old)
        bpy.data.images.load(str(out[key]), check_existing=False).name = name
    return out


def bpy_abspath(path: str) -> str:
    import bpy

    return bpy.path.abspath(path)
