"""The attribute vector: spec fields -> normalised slots with a mask, and measurement targets (numpy).

Slots and their normalisation come from the field table (``fields.ATTRIBUTE_ORDER``, ``Field.norm``): sex as is,
age log1p(years)/log1p(90), height (cm - 140)/40, weight log(kg/60), girths (cm - 85)/25, inseam (cm - 70)/20,
muscle and proportions (x - 0.5)/0.5. The mask is 1 where the user gave the value and 0 where it was left out
(the slot is then 0).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from pipeline.core.fields import ATTRIBUTE_ORDER, FIELDS, MEASURED_FIELDS, Norm


def _normalise(x: np.ndarray, norm: Norm) -> np.ndarray:
    if norm.kind == "identity":
        return x
    if norm.kind == "linear":
        return (x - norm.centre) / norm.scale
    if norm.kind == "log":
        return np.log(np.maximum(x, 1e-3) / norm.centre)
    return np.log1p(np.maximum(x, 0)) / np.log1p(norm.centre)


def normalise_columns(a: np.ndarray, m: np.ndarray) -> np.ndarray:
    """(B, A) raw attribute columns in ``ATTRIBUTE_ORDER`` units and (B, A) masks -> (B, A) float32 slots."""
    out = np.zeros_like(a, dtype=np.float64)
    for j, key in enumerate(ATTRIBUTE_ORDER):  # one pass per slot, vectorised over the batch
        out[:, j] = _normalise(a[:, j], FIELDS[key].norm)
    return (out * m).astype(np.float32)


def normalise_attributes(values: Mapping[str, float | None] | Iterable[Mapping[str, float | None]]
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Attribute vectors and masks of per-avatar dicts (spec keys; None or absent = not given).

    Returns:
        (B, A) float32 normalised slots and (B, A) float32 masks, A = len(ATTRIBUTE_ORDER).
    """
    rows = [values] if isinstance(values, Mapping) else list(values)
    a = np.zeros((len(rows), len(ATTRIBUTE_ORDER)), dtype=np.float64)
    m = np.zeros_like(a)
    for i, r in enumerate(rows):  # one row per avatar, not per vertex
        for j, key in enumerate(ATTRIBUTE_ORDER):
            v = r.get(key)
            if v is not None:
                a[i, j], m[i, j] = float(v), 1.0
    return normalise_columns(a, m), m.astype(np.float32)


def mask_for(keys: Iterable[str], n: int) -> np.ndarray:
    """(n, A) float64 mask with ones in the slots of the given fields."""
    m = np.zeros((n, len(ATTRIBUTE_ORDER)), dtype=np.float64)
    for k in keys:
        m[:, ATTRIBUTE_ORDER.index(k)] = 1.0
    return m


def measurement_targets(requested: Iterable[Mapping[str, float | None]]) -> dict[str, np.ndarray]:
    """Per-avatar requests (spec keys) -> refinement targets keyed by measurement (``stature_cm`` ...):
    (B,) arrays in the measurement's unit, NaN where the field was not given."""
    rows = list(requested)
    return {FIELDS[k].measurement: np.array([np.nan if r.get(k) is None else float(r[k]) for r in rows])
            for k in MEASURED_FIELDS}


def column_targets(raw: np.ndarray, keys: Iterable[str]) -> dict[str, np.ndarray]:
    """Refinement targets from (B, A) raw attribute columns with only ``keys`` given (NaN elsewhere)."""
    given = set(keys)
    return {FIELDS[k].measurement: raw[:, ATTRIBUTE_ORDER.index(k)] if k in given else np.full(len(raw), np.nan)
            for k in MEASURED_FIELDS}
