"""Train the AvatarDecoder on bodies of the body space with their measured anthropometry.

Data: ``assets/body/population.npz`` (see ``assets/build_population.py``): 12,000 macro-phenotype bodies (the
decoder's expected body) and 5,500 with local changes (its latent basis), each with sex, age, muscle,
proportions and the measurements of ``pipeline.core.anthropometry``. Optional attributes (girths, inseam, muscle,
proportions) are hidden during training (all of them, all but the girths, or a random subset) so that one network
serves every combination a user may give. Loss: mean squared vertex distance (computed in coefficient space
through the basis Gram matrix). The latent basis is the PCA of what the attributes do not predict on the bodies
with local changes; the residual covariance (required attributes only) is refinement's prior metric.

Entry point: ``train(out_dir, TrainConfig(...))``; CLI ``avatar train decoder --minutes M --out DIR``. The
schedule is a fixed number of epochs (same seed -> same weights on the same machine); ``minutes`` caps the time.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from models.common.reports import write_json
from models.decoder.data import TRAIN_SETS, load_population, training_data_fingerprint
from models.decoder.model import AvatarDecoder, DecoderConfig
from pipeline.core.attributes import mask_for, normalise_columns
from pipeline.core.body_model import BodyModel, load_body_model
from pipeline.core.fields import ATTRIBUTE_ORDER, GIRTH_FIELDS, REQUIRED_ATTRIBUTES


@dataclasses.dataclass
class TrainConfig:
    epochs: int = 2500  # the schedule runs over epochs (reproducible); ``minutes`` only caps the time
    minutes: float = 19.0
    seed: int = 1234
    batch: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-6
    drop_optional: float = 0.5
    # mask mixture: share of batches rows with every optional attribute hidden, with only the girths given, and
    # with a random subset (each optional hidden with probability drop_optional)
    mask_mix: tuple[float, float, float] = (0.4, 0.3, 0.3)
    val_fraction: float = 0.05


def vertex_metric(body: BodyModel) -> np.ndarray:
    """(K, K) L with |d @ L|^2 = mean over vertices of the squared distance moved by coefficients d."""
    b = body.basis.reshape(body.n_components, -1).astype(np.float64)
    return np.linalg.cholesky(b @ b.T / body.n_vertices)


def train(out_dir: Path, cfg: TrainConfig | None = None, body: BodyModel | None = None,
          progress: bool = True) -> dict:
    """Train, save weights + config + report into ``out_dir``, return the report dict."""
    cfg = cfg or TrainConfig()
    body = body or load_body_model()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    pop = load_population(body)
    raw = np.concatenate([pop[s]["raw"] for s in TRAIN_SETS])
    target = np.concatenate([pop[s]["coefficients"] for s in TRAIN_SETS])
    n = raw.shape[0]
    perm = rng.permutation(n)
    n_val = int(n * cfg.val_fraction)
    val_idx, tr_idx = perm[:n_val], perm[n_val:]
    metric = vertex_metric(body)
    L = torch.from_numpy(metric).float()
    required = np.isin(ATTRIBUTE_ORDER, REQUIRED_ATTRIBUTES)

    model = AvatarDecoder(DecoderConfig(n_coefficients=body.n_components))
    model.coeff_mean.copy_(torch.from_numpy(target[tr_idx].mean(0)).float())
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    budget = cfg.minutes * 60.0

    def batch_tensors(idx: np.ndarray, m: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        a = normalise_columns(raw[idx], m)
        return torch.from_numpy(a), torch.from_numpy(m.astype(np.float32)), torch.from_numpy(target[idx]).float()

    def loss_of(pred: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        return (((pred - tgt) @ L) ** 2).sum(dim=1).mean()

    girths = np.isin(ATTRIBUTE_ORDER, GIRTH_FIELDS)

    def sample_masks(count: int) -> np.ndarray:
        kind = rng.choice(3, size=count, p=cfg.mask_mix)
        rand = rng.random((count, len(ATTRIBUTE_ORDER))) > cfg.drop_optional
        m = np.where(kind[:, None] == 0, False, np.where(kind[:, None] == 1, girths[None], rand))
        return np.where(required[None], 1.0, m.astype(np.float64))

    # validation with a fixed random mask, so that the curve is comparable epoch to epoch
    val_mask = sample_masks(n_val)
    va, vm, vt = batch_tensors(val_idx, val_mask)
    history: dict[str, list[float]] = {"epoch": [], "train_rms_mm": [], "val_rms_mm": [], "seconds": []}
    t0 = time.perf_counter()
    steps_per_epoch = int(np.ceil(len(tr_idx) / cfg.batch))
    best = (float("inf"), None)
    epoch = 0
    while epoch < cfg.epochs:
        if time.perf_counter() - t0 > budget:
            print(f"  time budget of {cfg.minutes} min reached after {epoch} epochs", flush=True)
            break
        for g in opt.param_groups:  # cosine schedule over the epochs
            g["lr"] = cfg.lr * 0.5 * (1 + np.cos(np.pi * epoch / cfg.epochs))
        order = rng.permutation(tr_idx)
        model.train()
        total = 0.0
        for s in range(steps_per_epoch):
            idx = order[s * cfg.batch:(s + 1) * cfg.batch]
            m = sample_masks(len(idx))
            a, mm, t = batch_tensors(idx, m)
            loss = loss_of(model(a, mm), t)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        model.eval()
        with torch.no_grad():
            val = float(loss_of(model(va, vm), vt))
        epoch += 1
        history["epoch"].append(epoch)
        history["train_rms_mm"].append(float(np.sqrt(total / len(tr_idx)) * 1000))
        history["val_rms_mm"].append(float(np.sqrt(val) * 1000))
        history["seconds"].append(time.perf_counter() - t0)
        if val < best[0]:
            best = (val, {k: v.clone() for k, v in model.state_dict().items()})
        if progress and (epoch % 20 == 0 or epoch == 1):
            print(f"  epoch {epoch:4d}  {history['seconds'][-1]:6.0f} s  train rms {history['train_rms_mm'][-1]:.2f} mm"
                  f"  val rms {history['val_rms_mm'][-1]:.2f} mm", flush=True)
    model.load_state_dict(best[1])
    model.eval()

    # residual covariance of the expected body from the required attributes only (the widest uncertainty), on the
    # training bodies: the prior metric of measurement refinement (see models/refine.py)
    macro = pop["train_macro"]
    basic = mask_for(REQUIRED_ATTRIBUTES, len(macro["raw"]))
    with torch.no_grad():
        pred = model(torch.from_numpy(normalise_columns(macro["raw"], basic)), torch.from_numpy(basic).float())
    r_macro = macro["coefficients"] - pred.numpy().astype(np.float64)
    model.residual_cov.copy_(torch.from_numpy(np.cov(r_macro, rowvar=False)).float())

    # latent basis: what the full attribute set does not predict, on the bodies with local changes
    local = pop["train_local"]
    full = np.ones_like(local["raw"])
    with torch.no_grad():
        pred = model(torch.from_numpy(normalise_columns(local["raw"], full)), torch.from_numpy(full).float())
    resid = local["coefficients"] - pred.numpy().astype(np.float64)
    lw = resid @ metric  # PCA in vertex-distance terms
    _, s, vt_ = np.linalg.svd(lw - lw.mean(0), full_matrices=False)
    k = model.cfg.latent_dim
    dirs = np.linalg.solve(metric.T, vt_[:k].T).T  # back to coefficient space
    std = s[:k] / np.sqrt(len(resid) - 1)
    model.latent_basis.copy_(torch.from_numpy(dirs * std[:, None]).float())
    explained = float((s[:k] ** 2).sum() / (s**2).sum())

    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(out_dir, training_data_fingerprint(body))
    report = {"config": dataclasses.asdict(cfg), "epochs": epoch, "seconds": round(time.perf_counter() - t0, 1),
              "train_bodies": len(tr_idx), "val_bodies": int(n_val),
              "best_val_rms_mm": float(np.sqrt(best[0]) * 1000),
              "latent": {"dim": k, "explained_fraction_of_residual": explained,
                         "residual_rms_mm": float(np.sqrt((lw**2).sum(1).mean()) * 1000)},
              "history": history, "torch_threads": torch.get_num_threads()}
    write_json(out_dir / "training_log.json", report)
    return report
