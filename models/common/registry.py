"""The model registry: one entry per trainable model, named as ``avatar train NAME`` and ``avatar evaluate NAME``
name it and as its weights folder (``models/weights/<name>``).

Entries name their functions as ``module:attribute`` and import them only when used, so listing models imports
no model code. ``python -m models.common.registry`` prints the names (``make train`` retrains each).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """How to train, evaluate and load one model.

    Attributes:
        name: the CLI name and weights folder. summary: one line for help texts.
        config: ``module:Class`` of the training config dataclass (fields ``minutes`` and ``seed`` at least).
        train: ``module:function(out_dir, config) -> report``; writes weights, config and training log.
        evaluate: ``module:function(weights_dir, seed=None, n=None, out=None) -> report``; held-out evaluation
            with every baseline, writing report.json and report.png into ``out`` when given.
        load: ``module:callable(weights_dir=None)`` -> the model ready to use.
        max_minutes: the training budget on 2 CPU cores (data generation included).
        after_training: keyword arguments of the evaluation that ``avatar train`` runs when training ends.
    """

    name: str
    summary: str
    config: str
    train: str
    evaluate: str
    load: str
    max_minutes: float
    after_training: tuple[tuple[str, Any], ...] = ()

    def resolve(self, what: str) -> Callable[..., Any]:
        module, _, attr = getattr(self, what).partition(":")
        obj: Any = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj


REGISTRY: dict[str, ModelEntry] = {e.name: e for e in (
    ModelEntry(
        name="decoder", summary="AvatarDecoder: attributes + seed -> body shape coefficients",
        config="models.decoder.train:TrainConfig", train="models.decoder.train:train",
        evaluate="models.decoder.evaluate:evaluate_and_report", load="models.decoder.model:AvatarDecoder.load",
        max_minutes=20.0),
    ModelEntry(
        name="texture", summary="TextureDecoder: attributes + seed -> albedo, normal and roughness maps",
        config="models.texture.train:TrainConfig", train="models.texture.train:train",
        evaluate="models.texture.evaluate:evaluate_and_report", load="models.texture.model:TextureDecoder.load",
        max_minutes=30.0),
    ModelEntry(
        name="comic", summary="ComicTextureGAN: exemplar images -> a comic style (seamless tiles, stylised albedo)",
        config="models.comic.train:TrainConfig", train="models.comic.train:train",
        evaluate="models.comic.evaluate:evaluate_and_report", load="models.comic.style:ComicStyle.load",
        max_minutes=30.0, after_training=(("optimiser_minutes", 1.0),)),
    ModelEntry(
        name="enhancer", summary="RenderEnhancer: half-resolution Cycles or EEVEE render + full-resolution passes -> "
                                 "full resolution (its data rendered first, budgeted apart)",
        config="models.enhancer.train:TrainConfig", train="pipeline.jobs.enhancer_renders:train",
        evaluate="pipeline.jobs.enhancer_renders:evaluate_and_report", load="models.enhancer.model:RenderEnhancer.load",
        max_minutes=30.0, after_training=(("n", 12),)),
)}


def get(name: str) -> ModelEntry:
    """The entry of a model; ValueError naming the models there are."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; models: {', '.join(REGISTRY)}") from None


if __name__ == "__main__":
    print(" ".join(REGISTRY))
