"""Differentiable anthropometry: a torch port of ``pipeline.core.anthropometry.measure`` (same definitions).

Used by measurement refinement and decoder training. Gradients flow through the vertices that define each
measurement (extreme vertices for stature, the hull points for girths, every face for the volume).
"""

from __future__ import annotations

import math

import torch

from pipeline.core.anthropometry import BODY_DENSITY_KG_M3, GIRTH_DIRECTIONS, MEASUREMENT_KEYS, BodyLandmarks

__all__ = ["MEASUREMENT_KEYS", "TorchAnthropometry"]


class TorchAnthropometry(torch.nn.Module):
    """Measurements of (B, V, 3) rest vertices in metres -> dict of (B,) tensors in cm and kg."""

    def __init__(self, faces, landmarks: BodyLandmarks, density: float = BODY_DENSITY_KG_M3,
                 n_directions: int = GIRTH_DIRECTIONS) -> None:
        super().__init__()
        f = torch.as_tensor(faces, dtype=torch.long)
        if landmarks.cap_faces.shape[0]:
            raise NotImplementedError("templates with openings are not supported by the torch port")
        self.register_buffer("faces", f, persistent=False)
        for key in ("chest", "waist", "hips"):
            self.register_buffer(f"{key}_edges", torch.as_tensor(landmarks.girth_edges[key], dtype=torch.long),
                                 persistent=False)
            self.register_buffer(f"{key}_t", torch.as_tensor(landmarks.girth_t[key], dtype=torch.float64),
                                 persistent=False)
        theta = torch.arange(n_directions, dtype=torch.float64) * (2 * math.pi / n_directions)
        self.register_buffer("directions", torch.stack([torch.cos(theta), torch.sin(theta)]), persistent=False)
        self.landmarks = landmarks
        self.density = density

    def girth(self, points: torch.Tensor) -> torch.Tensor:
        """(B, N, 3) -> (B,) metres: convex hull perimeter seen along Z (see pipeline.core.anthropometry)."""
        xy = points[..., :2]
        idx = torch.argmax(xy @ self.directions.to(xy.dtype), dim=1)  # (B, M)
        hull = torch.gather(xy, 1, idx[..., None].expand(-1, -1, 2))
        return torch.linalg.norm(torch.roll(hull, -1, dims=1) - hull, dim=-1).sum(dim=1)

    def forward(self, v: torch.Tensor) -> dict[str, torch.Tensor]:
        lm = self.landmarks
        z = v[..., 2]
        floor = z.min(dim=1).values
        a, b, c = (v[:, self.faces[:, i]] for i in range(3))
        volume = (torch.linalg.cross(a, b, dim=-1) * c).sum(dim=(-1, -2)).abs() / 6.0
        out = {"stature_cm": (z.max(dim=1).values - floor) * 100.0, "mass_kg": volume * self.density}
        for key in ("chest", "waist", "hips"):
            e = getattr(self, f"{key}_edges")
            t = getattr(self, f"{key}_t").to(v.dtype)[None, :, None]
            pts = v[:, e[:, 0]] + (v[:, e[:, 1]] - v[:, e[:, 0]]) * t
            out[f"{key}_cm"] = self.girth(pts) * 100.0
        out["inseam_cm"] = (v[:, lm.crotch, 2] - floor) * 100.0
        out["shoulder_width_cm"] = torch.linalg.norm(v[:, lm.acromion_l] - v[:, lm.acromion_r], dim=-1) * 100.0
        arm_l = torch.linalg.norm(v[:, lm.acromion_l] - v[:, lm.wrist_l], dim=-1)
        arm_r = torch.linalg.norm(v[:, lm.acromion_r] - v[:, lm.wrist_r], dim=-1)
        out["arm_length_cm"] = (arm_l + arm_r) * 50.0
        return out
