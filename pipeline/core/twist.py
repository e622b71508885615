"""Twist bones of the game rig, and the rule that drives them (numpy).

A limb bone that rolls about its own axis (the forearm when the hand pronates, the upper arm when it rotates in
the shoulder) turns its whole skin as a rigid block, so linear blend skinning pinches the joint where that skin meets
the next bone's (the "candy wrapper"). The Unreal mannequin's answer, kept here with its names, is one twist bone per
long limb bone that takes part of the roll, with skin weights that hand the limb over to it gradually:

- ``lowerarm_twist_01`` (child of ``lowerarm``, from the middle of the forearm) takes three quarters of the
  **hand's** roll about the hand's own axis (pronation and supination): forearm skin goes from no roll at the elbow
  to three quarters of it toward the wrist, and the hand's skin carries the last quarter. ``calf_twist_01`` does the
  same for the **foot** on the calf. (Measured on 50 sampled bodies with the hand pronated 90 degrees about the
  forearm's axis: three quarters keep at worst 95.7 % of the wrist's slab volume with edges stretched at most
  1.71x, where the rig without twist bones keeps 70.2 % and stretches them 5.1x; ``bench/bench_deformation.py``.)
- ``upperarm_twist_01`` (child of ``upperarm``, a quarter down from the shoulder) turns back half of the
  **upper arm's own** roll, so the shoulder end of the upper arm rolls half as far as the elbow end.
  ``thigh_twist_01`` does the same for the thigh.

The rule ("twist bone rolls ``fraction`` x the driver's roll about the driver's own Y axis", the roll taken by
swing-twist decomposition) is applied by ``apply_twist_rule`` in the CPU skinning of previews and tests, by a
Transformation constraint (``SWING_TWIST_Y``) on the Blender rig, and is baked into animations exported from it.
Engines that drive twist bones themselves (Unreal's twist correctives, Unity's Humanoid "twist" settings) read the
same bones; they should drive them with these fractions.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class TwistBone:
    """name, parent (the limb bone it belongs to), driver (whose roll it follows), fraction of that roll, where it
    starts along its parent (0 head, 1 tail), and which end of the parent its skin weights take over."""

    name: str
    parent: str
    driver: str
    fraction: float
    at: float
    end: str  # "distal": weights ramp up toward the parent's tail; "proximal": toward its head


TWIST_BONES: tuple[TwistBone, ...] = tuple(
    TwistBone(f"{limb}_twist_01_{side}", f"{limb}_{side}", f"{driver}_{side}" if driver else f"{limb}_{side}",
              fraction, at, end)
    for side in ("l", "r")
    for limb, driver, fraction, at, end in (
        ("upperarm", None, -0.5, 0.25, "proximal"),
        ("lowerarm", "hand", 0.75, 0.5, "distal"),
        ("thigh", None, -0.5, 0.25, "proximal"),
        ("calf", "foot", 0.75, 0.5, "distal"),
    )
)
TWIST_LENGTH = 0.25  # of the parent bone's length
RAMP = (0.15, 0.85)  # the skin is handed over between these fractions of the parent bone


def handover(s: np.ndarray, end: str) -> np.ndarray:
    """Share of a parent bone's weight its twist bone takes, for positions ``s`` (0 head .. 1 tail) along the
    parent: a smoothstep from 0 to 1 over ``RAMP``, toward the tail (``distal``) or toward the head."""
    t = np.clip((s - RAMP[0]) / (RAMP[1] - RAMP[0]), 0.0, 1.0)
    t = t * t * (3.0 - 2.0 * t)
    return t if end == "distal" else 1.0 - t


def split_weights(indices: np.ndarray, weights: np.ndarray, vertices: np.ndarray, heads: np.ndarray,
                  tails: np.ndarray, names: tuple[str, ...], twist_index: dict[str, int]
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Skin weights with each twist bone taking its share of its parent's weight.

    Args:
        indices, weights: (V, K) influences (rows sum to 1). vertices: (V, 3) the body they were made for.
        heads, tails: (J, 3) of that body. names: the J bone names. twist_index: twist name -> its bone index.
    Returns:
        (V, K + T) indices and weights, T = len(twist_index); rows still sum to 1.
    """
    idx = np.asarray(indices).copy()
    w = np.asarray(weights, dtype=np.float64).copy()
    extra_i = np.zeros((len(idx), len(twist_index)), dtype=idx.dtype)
    extra_w = np.zeros((len(idx), len(twist_index)))
    for col, t in enumerate(b for b in TWIST_BONES if b.name in twist_index):
        p = names.index(t.parent)
        axis = tails[p] - heads[p]
        s = (vertices - heads[p]) @ axis / float(axis @ axis)
        share = handover(s, t.end)[:, None] * (idx == p)  # (V, K): only the parent's slots
        taken = (w * share).sum(axis=1)
        w -= w * share
        extra_i[:, col] = np.where(taken > 0, twist_index[t.name], 0)
        extra_w[:, col] = taken
    return np.concatenate([idx, extra_i], axis=1), np.concatenate([w, extra_w], axis=1)


def _roll_about_y(r: np.ndarray) -> np.ndarray:
    """Twist angles (radians) about the local Y axis of rotations (..., 3, 3): swing-twist decomposition."""
    w = np.sqrt(np.maximum(0.0, 1.0 + r[..., 0, 0] + r[..., 1, 1] + r[..., 2, 2])) / 2.0
    y4w = r[..., 0, 2] - r[..., 2, 0]  # 4 w y of the rotation's quaternion (w, x, y, z), w >= 0
    return 2.0 * np.arctan2(y4w, 4.0 * w * w)  # 2 atan2(y, w), scaled by 4 w >= 0


def roll_y(angle: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations about the local Y axis."""
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros((*np.shape(angle), 3, 3))
    out[..., 0, 0], out[..., 0, 2], out[..., 1, 1], out[..., 2, 0], out[..., 2, 2] = c, s, 1.0, -s, c
    return out


def apply_twist_rule(names: tuple[str, ...], rotations: np.ndarray) -> np.ndarray:
    """Bone-local rotations (..., J, 3, 3) with every twist bone of ``names`` set by the rule (its own rotation, if
    any, is replaced: twist bones are driven, not posed)."""
    out = np.array(rotations, dtype=np.float64, copy=True)
    for t in TWIST_BONES:
        if t.name in names and t.driver in names:
            angle = _roll_about_y(out[..., names.index(t.driver), :, :])
            out[..., names.index(t.name), :, :] = roll_y(t.fraction * angle)
    return out
