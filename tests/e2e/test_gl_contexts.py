"""pyrender's previews and Blender's EEVEE share a process's EGL: a process that drew pyrender previews (a worker
that served a pyrender job) can still render with EEVEE afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
import numpy as np
from pipeline.core.views import FRONT
from pipeline.preview.offscreen import Renderer

with Renderer(64, 64) as r:  # a pyrender preview, its renderer closed as a job's context closes it
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 0, 1]], float)
    r.render(v, np.array([[0, 1, 2]]), (0.8, 0.6, 0.5, 1), FRONT, 2.0, 0.5)
import bpy
from pipeline.blender.render import add_camera, configure_render

bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.mesh.primitive_cube_add(location=(0, 0, 1))
scene = bpy.context.scene
configure_render(scene, "eevee", 32, 32, 1)
scene.camera = add_camera(scene, FRONT, 3.0, 1.0, 1.0)
scene.render.filepath = sys.argv[1]
bpy.ops.render.render(write_still=True)
print("EEVEE RENDERED")
"""


def test_eevee_renders_after_a_pyrender_preview_in_the_same_process(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYOPENGL_PLATFORM": "egl"}
    out = tmp_path / "eevee.png"
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(out)], capture_output=True, text=True, env=env,
                         timeout=300)
    assert run.returncode == 0, (run.returncode, run.stderr[-1500:])
    assert "EEVEE RENDERED" in run.stdout and out.is_file()
