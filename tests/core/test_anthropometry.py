"""Anthropometry on analytic shapes (to 0.1 %) and on the body template."""

from __future__ import annotations

import numpy as np
import trimesh

from pipeline.core.anthropometry import (
    MEASUREMENT_KEYS,
    convex_girth,
    edge_points,
    enclosed_volume,
    measure,
    plane_section,
    stature,
)
from pipeline.core.mesh import unique_edges


def test_box_volume_and_height():
    box = trimesh.creation.box(extents=(0.3, 0.2, 1.7))
    v = np.asarray(box.vertices)[None]
    f = np.asarray(box.faces)
    assert abs(enclosed_volume(v, f)[0] - 0.3 * 0.2 * 1.7) / (0.3 * 0.2 * 1.7) < 1e-3
    assert abs(stature(v)[0] - 1.7) < 1e-12
    # orientation does not matter, batch works
    v2 = np.concatenate([v, v * 2.0])
    vol = enclosed_volume(v2, f[:, ::-1])
    assert np.allclose(vol, [0.102, 0.816], rtol=1e-3)


def test_cylinder_girth_by_plane_section():
    r = 0.15
    cyl = trimesh.creation.cylinder(radius=r, height=1.0, sections=512)
    v = np.asarray(cyl.vertices)
    e, t = plane_section(v, unique_edges(np.asarray(cyl.faces)), 0.1)
    pts = edge_points(v[None], e, t)
    girth = convex_girth(pts)[0]
    # the mesh is a 512-gon; its perimeter is the reference, the circle differs by (pi/512)^2/6
    polygon = 2 * 512 * r * np.sin(np.pi / 512)
    assert abs(girth - polygon) / polygon < 1e-3
    assert abs(girth - 2 * np.pi * r) / (2 * np.pi * r) < 1e-3


def test_convex_girth_ignores_concavities_like_a_tape():
    # a square with a notch: the tape spans the notch
    sq = np.array([[0, 0], [1, 0], [1, 1], [0.5, 0.6], [0, 1]], dtype=float)[None]
    assert abs(convex_girth(sq)[0] - 4.0) < 1e-9


def test_cylinder_volume():
    cyl = trimesh.creation.cylinder(radius=0.1, height=0.5, sections=256)
    vol = enclosed_volume(np.asarray(cyl.vertices)[None], np.asarray(cyl.faces))[0]
    assert abs(vol - cyl.volume) / cyl.volume < 1e-9  # same closed mesh as trimesh's own volume
    assert abs(vol - np.pi * 0.01 * 0.5) / (np.pi * 0.01 * 0.5) < 1e-3


def test_template_is_closed_and_measures_plausibly(body):
    # the template is a closed surface (no openings), so the volume needs no capping
    mesh = trimesh.Trimesh(body.mean, body.faces, process=False)
    assert mesh.is_watertight
    m = measure(body.mean, body.faces, body.landmarks)
    assert set(m) == set(MEASUREMENT_KEYS)
    assert abs(m["mass_kg"] - abs(mesh.volume) * 985.0) < 1e-6
    # mean body of a population 0-90 years: between a child and an adult
    assert 120 < m["stature_cm"] < 190
    assert m["waist_cm"] < m["hips_cm"]
    assert 0.35 < m["inseam_cm"] / m["stature_cm"] < 0.55
    assert 0.15 < m["shoulder_width_cm"] / m["stature_cm"] < 0.30
    assert 0.25 < m["arm_length_cm"] / m["stature_cm"] < 0.40


def test_measurements_scale_with_the_body(body):
    v = body.mean.astype(np.float64)
    v = v - v.mean(axis=0)
    a = measure(v, body.faces, body.landmarks)
    b = measure(v * 1.1, body.faces, body.landmarks)
    for k in MEASUREMENT_KEYS:
        expected = a[k] * (1.1**3 if k == "mass_kg" else 1.1)
        assert abs(b[k] - expected) / expected < 1e-6, k
