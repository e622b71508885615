"""Anthropometry on rest-pose bodies (numpy only, vectorised over a batch).

Definitions (all on the rest pose: standing, Z up, metres in, centimetres and kilograms out):

- **stature_cm**: vertical distance from the lowest point (sole) to the highest point (vertex of the head).
- **mass_kg**: volume enclosed by the skin times ``BODY_DENSITY_KG_M3``. Openings of the template mesh (if any)
  are closed by fans around their centroid before the divergence-theorem volume is taken.
- **chest_cm, waist_cm, hips_cm**: tape-measure girths: the perimeter of the convex hull, seen from above, of a
  loop of points fixed to the skin of the torso (arms excluded). Each loop is the horizontal section of the mean
  body at a landmark height (chest: bust point, the most forward point of the chest; waist: the natural waist,
  MakeHuman's waist line; hips: the most backward point of the buttocks), carried to every body by the
  barycentric position of each point on its mesh edge.
- **inseam_cm**: height of the crotch (the lowest point of the torso between the legs) above the sole.
- **shoulder_width_cm**: biacromial breadth, the straight distance between the left and right acromion
  landmarks (the top-most skin point above each shoulder joint).
- **arm_length_cm**: shoulder-to-wrist length, from the acromion landmark to the wrist landmark (the skin
  point over the wrist joint), mean of both sides.

Landmarks are vertex indices and edge loops stored with the body assets (``assets/body``) and found there by
``assets/build_body_assets.py``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

# Whole-body density with normal air in the lungs. Lean tissue alone is denser (about 1.06 kg/L) and fat
# lighter (about 0.90 kg/L); 0.985 kg/L is a round whole-body figure (anny uses 0.98 kg/L). Stated, not fitted.
BODY_DENSITY_KG_M3 = 985.0
GIRTH_DIRECTIONS = 720

# measurement key -> label for user interfaces (units are in the keys)
MEASUREMENT_LABELS = {"stature_cm": "Stature", "mass_kg": "Mass", "chest_cm": "Chest", "waist_cm": "Waist",
                      "hips_cm": "Hips", "inseam_cm": "Inseam", "shoulder_width_cm": "Shoulders",
                      "arm_length_cm": "Arm length"}
MEASUREMENT_KEYS = tuple(MEASUREMENT_LABELS)


def stature(vertices: np.ndarray) -> np.ndarray:
    """(B, V, 3) metres -> (B,) metres: highest minus lowest Z."""
    z = vertices[..., 2]
    return z.max(axis=-1) - z.min(axis=-1)


def enclosed_volume(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Volume enclosed by a closed, consistently oriented triangle mesh (divergence theorem).

    Args:
        vertices: (B, V, 3) metres.
        faces: (F, 3) triangles.
    Returns:
        (B,) cubic metres (absolute value, so either orientation works).
    """
    a, b, c = (vertices[:, faces[:, i]] for i in range(3))
    return np.abs(np.einsum("bfi,bfi->b", np.cross(a, b), c) / 6.0)


def convex_girth(points: np.ndarray, n_directions: int = GIRTH_DIRECTIONS) -> np.ndarray:
    """Perimeter of the convex hull of points seen along Z (a tape around them).

    The hull is found by support directions: for each of ``n_directions`` directions the farthest point is a
    hull vertex; consecutive distinct hull vertices are joined. Hull corners sharper than 360/n degrees are all
    found; flatter ones cut off by it change the perimeter by less than 1e-5 relative.

    Args:
        points: (B, N, 2|3) metres (Z ignored).
    Returns:
        (B,) metres.
    """
    xy = points[..., :2]
    theta = np.linspace(0.0, 2.0 * np.pi, n_directions, endpoint=False)
    u = np.stack([np.cos(theta), np.sin(theta)], axis=0)  # (2, M)
    idx = np.argmax(xy @ u, axis=1)  # (B, M)
    hull = np.take_along_axis(xy, idx[..., None], axis=1)  # (B, M, 2)
    return np.linalg.norm(np.roll(hull, -1, axis=1) - hull, axis=-1).sum(axis=1)


def edge_points(vertices: np.ndarray, edges: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Points at fraction t along mesh edges: (B, V, 3), (N, 2), (N,) -> (B, N, 3)."""
    a = vertices[:, edges[:, 0]]
    b = vertices[:, edges[:, 1]]
    return a + (b - a) * t[None, :, None]


def plane_section(
    vertices: np.ndarray, edges: np.ndarray, height: float
) -> tuple[np.ndarray, np.ndarray]:
    """Edges of one mesh crossed by the plane z = height, and where.

    Args:
        vertices: (V, 3) one body.
        edges: (E, 2) candidate edges.
        height: metres.
    Returns:
        (N, 2) crossing edges and (N,) fractions t in [0, 1] from their first vertex.
    """
    za = vertices[edges[:, 0], 2] - height
    zb = vertices[edges[:, 1], 2] - height
    cross = (za * zb < 0) | ((za == 0) & (zb != 0))
    e = edges[cross]
    t = za[cross] / (za[cross] - zb[cross])
    return e, t


@dataclasses.dataclass(frozen=True)
class BodyLandmarks:
    """Landmarks of the body template that the measurements use (see the module docstring).

    Attributes:
        cap_faces: (C, 3) triangles closing the openings of the template; indices >= V refer to the
            centroids of the ``cap_loops`` (index V + i is the centroid of loop i).
        cap_matrix: (L, V) float rows averaging each opening's boundary vertices into its centroid.
        girth_edges: mapping name -> (N, 2) skin edges of the loop; girth_t: name -> (N,) fractions.
        crotch, acromion_l, acromion_r, wrist_l, wrist_r: vertex indices.
    """

    cap_faces: np.ndarray
    cap_matrix: np.ndarray
    girth_edges: dict[str, np.ndarray]
    girth_t: dict[str, np.ndarray]
    crotch: int
    acromion_l: int
    acromion_r: int
    wrist_l: int
    wrist_r: int

    def closed(self, vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The mesh with its openings closed: (B, V + L, 3) vertices and (F + C, 3) faces."""
        if self.cap_matrix.shape[0] == 0:
            return vertices, faces
        centroids = np.einsum("lv,bvi->bli", self.cap_matrix, vertices)
        return np.concatenate([vertices, centroids], axis=1), np.concatenate([faces, self.cap_faces])


def measure(
    vertices: np.ndarray, faces: np.ndarray, landmarks: BodyLandmarks, density: float = BODY_DENSITY_KG_M3
) -> dict[str, np.ndarray]:
    """All measurements of ``MEASUREMENT_KEYS`` for a batch of rest-pose bodies.

    Args:
        vertices: (B, V, 3) or (V, 3) metres, template topology.
        faces: (F, 3) template triangles.
        landmarks: the template's landmarks.
        density: kg/m^3 for the mass.
    Returns:
        name -> (B,) float64 array (or floats for a single (V, 3) body), centimetres and kilograms.
    """
    single = vertices.ndim == 2
    v = np.asarray(vertices, dtype=np.float64)
    if single:
        v = v[None]
    floor = v[..., 2].min(axis=1)
    vc, fc = landmarks.closed(v, faces)
    out = {
        "stature_cm": stature(v) * 100.0,
        "mass_kg": enclosed_volume(vc, fc) * density,
    }
    for key in ("chest", "waist", "hips"):
        pts = edge_points(v, landmarks.girth_edges[key], landmarks.girth_t[key])
        out[f"{key}_cm"] = convex_girth(pts) * 100.0
    out["inseam_cm"] = (v[:, landmarks.crotch, 2] - floor) * 100.0
    out["shoulder_width_cm"] = np.linalg.norm(
        v[:, landmarks.acromion_l] - v[:, landmarks.acromion_r], axis=-1) * 100.0
    arm_l = np.linalg.norm(v[:, landmarks.acromion_l] - v[:, landmarks.wrist_l], axis=-1)
    arm_r = np.linalg.norm(v[:, landmarks.acromion_r] - v[:, landmarks.wrist_r], axis=-1)
    out["arm_length_cm"] = (arm_l + arm_r) * 50.0
    if single:
        return {k: float(x[0]) for k, x in out.items()}
    return out
