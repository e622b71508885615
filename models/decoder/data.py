"""The decoder's data: bodies of the body space with their attributes and measurements.

``assets/body/population.npz`` (rebuilt by ``assets/build_population.py``, a development tool that needs anny)
holds four sets of bodies, each with shape coefficients and the population columns of the field table
(``Field.population_column``: sex, age, muscle, proportions and the measurements of ``pipeline.core.anthropometry``):
``train_macro`` (12,000 bodies, macro phenotypes only), ``train_local`` (5,500 with local changes), and the
held-out ``heldout_macro`` and ``heldout_local`` (500 each; seeds never used for fitting anything).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from types import ModuleType

import numpy as np

from pipeline.core.body_model import BodyModel
from pipeline.core.fields import ATTRIBUTE_ORDER, FIELDS
from pipeline.core.resources import checkout_root

POPULATION_FILE = "population.npz"
# The expected body (z = 0) is learnt on macro-phenotype bodies; the bodies with local changes only feed the
# latent basis. (Trained on both, the network cannot tell whether a body has local changes and its z = 0 body
# drifts toward the mixture mean: 7.5 mm on held-out macro bodies instead of ~2-3 mm.)
TRAIN_SETS = ("train_macro",)
HELDOUT_SETS = ("heldout_macro", "heldout_local")


def load_population(body: BodyModel) -> dict[str, dict[str, np.ndarray]]:
    """Set name -> {"raw": (n, A) attribute columns in ``ATTRIBUTE_ORDER`` units, "coefficients": (n, K)}."""
    path = body.asset_dir / POPULATION_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the decoder's training data is built by `make assets` "
                                "(it is not part of installed packages)")
    z = np.load(path, allow_pickle=False)
    names = sorted({k.rsplit("_coefficients", 1)[0] for k in z.files if k.endswith("_coefficients")})
    return {n: _as_set({k[len(n) + 1:]: z[k] for k in z.files if k.startswith(f"{n}_")}) for n in names}


def _as_set(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Population columns -> {"raw": (n, A) in ``ATTRIBUTE_ORDER`` units, "coefficients": (n, K)}, float64."""
    raw = np.stack([columns[FIELDS[a].population_column] for a in ATTRIBUTE_ORDER], axis=1)
    return {"raw": raw.astype(np.float64), "coefficients": columns["coefficients"].astype(np.float64)}


def _population_tool() -> ModuleType:
    """``assets/build_population.py`` of the checkout (a development tool: it draws bodies with anny)."""
    root = checkout_root()
    if root is None:
        raise FileNotFoundError("fresh held-out bodies are drawn with the anny reference model by the development "
                                "tools of a project checkout (assets/); this installation has only the committed "
                                "held-out sets (evaluate without --seed)")
    if "assets" not in sys.modules:
        spec = importlib.util.spec_from_file_location("assets", root / "assets" / "__init__.py",
                                                      submodule_search_locations=[str(root / "assets")])
        assert spec is not None and spec.loader is not None
        package = importlib.util.module_from_spec(spec)
        sys.modules["assets"] = package
        spec.loader.exec_module(package)
    return importlib.import_module("assets.build_population")


def heldout_sets(body: BodyModel, seed: int | None = None, n: int | None = None) -> dict[str, dict[str, np.ndarray]]:
    """The held-out sets ``heldout_macro`` (local changes 0) and ``heldout_local`` (local changes ~ N(0, 0.25)).

    Args:
        seed: None for the committed sets (population.npz, seeds 777002 and 777001); otherwise fresh bodies drawn
            from anny's population sampler with ``seed`` (macro) and ``seed + 1`` (local changes), which must not
            be seeds any training set used.
        n: bodies per set (default: all of the committed sets, 500 when drawing).
    """
    if seed is None:
        pop = load_population(body)
        return {k: {c: v[:n] for c, v in pop[k].items()} for k in HELDOUT_SETS}
    tool = _population_tool()
    used = {s for name, (_, s, _) in tool.SETS.items() if name.startswith("train")}
    if {seed, seed + 1} & used:
        raise ValueError(f"--seed {seed}: seeds {sorted(used)} drew the training bodies; choose another")
    models = tool.reference_models()
    count = n or 500
    return {"heldout_macro": _as_set(tool.draw_set(body, models, count, seed, 0.0)),
            "heldout_local": _as_set(tool.draw_set(body, models, count, seed + 1, 0.25))}


def training_data_fingerprint(body: BodyModel) -> str:
    """16 hex digits of SHA-256 over the body space and the population it was trained on."""
    h = hashlib.sha256()
    for name in ("body.npz", POPULATION_FILE):
        h.update((body.asset_dir / name).read_bytes())
    return h.hexdigest()[:16]
