"""Shots of an avatar for the render enhancer's data and its evaluation: a perspective camera framing the full
body, the upper body or the face, a pose, and lights (sun, sky, an area light). Drawn from a seeded generator;
numpy only (``pipeline.blender.shots`` applies a shot to a Blender scene).

Units: metres and degrees, Blender axes (+Z up, the avatar faces -Y), light power in watts, sun strength in
W/m^2.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from pipeline.core.avatar_data import AvatarData

SHOT_KINDS = ("full", "half", "face")
POSES = ("rest", "relaxed", "stride")
SENSOR_MM = 36.0  # Blender's default sensor width, fitted to the longer side


@dataclasses.dataclass(frozen=True)
class Lights:
    """A sun (direction from elevation and azimuth, strength, angular diameter), a sky colour lighting from
    every direction, and a square area light (position, size, power) aimed at ``area_target``."""

    sun_elevation: float
    sun_azimuth: float
    sun_strength: float
    sun_angle: float
    sky_rgb: tuple[float, float, float]
    sky_strength: float
    area_position: tuple[float, float, float]
    area_target: tuple[float, float, float]
    area_size: float
    area_power: float


@dataclasses.dataclass(frozen=True)
class Shot:
    """A camera (``eye`` looking at ``target``, focal length ``lens_mm`` on a 36 mm sensor), a pose name and the
    lights."""

    kind: str
    eye: tuple[float, float, float]
    target: tuple[float, float, float]
    lens_mm: float
    pose: str
    lights: Lights


def _bone_position(avatar: AvatarData, names: tuple[str, ...]) -> np.ndarray | None:
    for n in names:
        if n in avatar.bone_names:
            return avatar.bone_rest[avatar.bone_names.index(n), :3, 3].astype(np.float64)
    return None


def landmarks(avatar: AvatarData) -> dict[str, np.ndarray]:
    """Aim points (3,) in metres: ``face`` (between the eyes), ``chest`` and ``body`` (half the stature)."""
    v = avatar.vertices.astype(np.float64)
    top, bottom = float(v[:, 2].max()), float(v[:, 2].min())
    head = _bone_position(avatar, ("head", "mixamorig:Head", "head.001"))
    face_z = top - 0.11 if head is None else head[2] + 0.4 * (top - head[2])
    near = np.abs(v[:, 2] - face_z) < 0.02
    face_y = float(v[near, 1].min()) + 0.05 if near.any() else 0.0
    chest = _bone_position(avatar, ("spine_03", "mixamorig:Spine2", "spine01"))
    chest_z = bottom + 0.72 * (top - bottom) if chest is None else float(chest[2])
    return {"face": np.array([0.0, face_y, face_z]), "chest": np.array([0.0, 0.0, chest_z]),
            "body": np.array([0.0, 0.0, bottom + 0.5 * (top - bottom)])}


def _direction(azimuth: float, elevation: float) -> np.ndarray:
    """Unit vector from the body toward the camera: azimuth 0 = in front (-Y), positive to the avatar's left."""
    a, e = np.radians(azimuth), np.radians(elevation)
    return np.array([np.sin(a) * np.cos(e), -np.cos(a) * np.cos(e), np.sin(e)])


def sample_lights(rng: np.random.Generator, centre: np.ndarray) -> Lights:
    """Varied daylight and studio light around ``centre`` (3,)."""
    sky = np.array([0.55, 0.7, 1.0]) if rng.random() < 0.6 else np.array([1.0, 0.85, 0.7])
    sky = np.clip(sky + rng.normal(0.0, 0.06, 3), 0.3, 1.0)
    area_dir = _direction(rng.uniform(-120, 120), rng.uniform(-10, 50))
    return Lights(sun_elevation=float(rng.uniform(15, 75)), sun_azimuth=float(rng.uniform(-180, 180)),
                  sun_strength=float(rng.uniform(1.5, 4.0)), sun_angle=float(rng.uniform(0.5, 15.0)),
                  sky_rgb=tuple(float(c) for c in sky), sky_strength=float(rng.uniform(0.15, 0.6)),
                  area_position=tuple(float(c) for c in centre + area_dir * rng.uniform(1.2, 2.5)),
                  area_target=tuple(float(c) for c in centre), area_size=float(rng.uniform(0.3, 1.5)),
                  area_power=float(rng.choice([0.0, rng.uniform(15.0, 120.0)])))


def sample_shot(avatar: AvatarData, rng: np.random.Generator, kind: str) -> Shot:
    """A shot of ``kind`` (full, half, face) with a random pose, camera angle, distance and lights."""
    if kind not in SHOT_KINDS:
        raise ValueError(f"shot kind {kind!r}: allowed {', '.join(SHOT_KINDS)}")
    marks = landmarks(avatar)
    stature = float(np.ptp(avatar.vertices[:, 2]))
    if kind == "full":
        target, lens = marks["body"], float(rng.uniform(35, 60))
        span, azim, elev = stature * rng.uniform(1.05, 1.25), rng.uniform(-70, 70), rng.uniform(-5, 15)
    elif kind == "half":
        target, lens = marks["chest"], float(rng.uniform(40, 70))
        span, azim, elev = rng.uniform(0.7, 1.0), rng.uniform(-60, 60), rng.uniform(-5, 15)
    else:
        target, lens = marks["face"], float(rng.uniform(50, 85))
        span, azim, elev = rng.uniform(0.3, 0.45), rng.uniform(-50, 50), rng.uniform(-10, 15)
    distance = span / 2.0 * lens / (SENSOR_MM / 2.0)  # the span fills the frame's side
    target = target + rng.normal(0.0, 0.01 * span, 3)
    eye = target + _direction(float(azim), float(elev)) * distance
    pose = str(rng.choice(POSES)) if kind != "face" else str(rng.choice(POSES[:2]))
    return Shot(kind=kind, eye=tuple(float(c) for c in eye), target=tuple(float(c) for c in target), lens_mm=lens,
                pose=pose, lights=sample_lights(rng, marks["chest"]))
