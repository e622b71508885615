"""The ``avatar`` command (also ``python -m pipeline``): generate, sample, measure, train.

Exit code 0 only when everything asked for was made; problems go to stderr, one readable line each.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipeline.attributes import SpecError

TRAINABLE = ("decoder",)
PLANNED_MODELS = ("texture", "comic", "enhancer")


def _formats(text: str) -> tuple[str, ...]:
    return tuple(f.strip() for f in text.split(",") if f.strip())


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="avatar", description="Rigged, metric avatars from attribute specs.")
    sub = ap.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="make the avatars of a spec file")
    g.add_argument("--spec", type=Path, required=True, help="TOML (or JSON) spec with [[avatar]] tables")
    g.add_argument("--out", type=Path, required=True, help="output folder")
    g.add_argument("--formats", type=_formats, default=("glb",),
                   help="comma-separated: glb, fbx-unity, fbx-unreal, usd")
    g.add_argument("--rig", default="game_engine", help="game_engine | mixamo | makehuman")
    g.add_argument("--names", default="internal", help="internal | unreal (bone names of the game_engine rig)")
    g.add_argument("--no-preview", action="store_true", help="skip the pyrender previews and contact sheet")
    g.add_argument("--preview-engine", default="pyrender",
                   help="pyrender (fast, CPU-posed) | eevee | cycles (rendered by Blender from the built avatar)")
    g.add_argument("--texture-size", type=int, default=1024, help="albedo texture size: 256, 512, 1024 or 2048")
    g.add_argument("--no-refine", action="store_true", help="skip measurement refinement (decoder only)")
    g.add_argument("--resume", action="store_true",
                   help="skip avatars already made from the same request with whole files")
    g.add_argument("--workers", type=int, default=1, help="parallel worker processes")

    s = sub.add_parser("sample", help="write a realistic spec for N people")
    s.add_argument("--n", type=int, required=True)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", type=Path, required=True)

    m = sub.add_parser("measure", help="measurements of an avatar GLB made by this pipeline, as JSON")
    m.add_argument("file", type=Path)

    t = sub.add_parser("train", help="retrain a model")
    t.add_argument("model", help="decoder (texture, comic, enhancer arrive with their issues)")
    t.add_argument("--minutes", type=float, default=19.0, help="time cap on this machine (at most 20)")
    t.add_argument("--epochs", type=int, default=2500, help="training schedule length")
    t.add_argument("--seed", type=int, default=1234)
    t.add_argument("--out", type=Path, required=True, help="folder for weights, config and report")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "generate":
            from pipeline.generate import GenerateOptions, generate

            print(f"Generating avatars of {args.spec} into {args.out} ...", flush=True)
            manifest, code = generate(args.spec, GenerateOptions(
                out=args.out, formats=args.formats, rig=args.rig, names=args.names, preview=not args.no_preview,
                refine=not args.no_refine, resume=args.resume, workers=args.workers,
                preview_engine=args.preview_engine, texture_size=args.texture_size))
            done = sum(v["status"] == "done" for v in manifest["avatars"].values())
            print(f"{done}/{len(manifest['avatars'])} avatars made in {manifest['timings_s']['total']:.1f} s; "
                  f"manifest: {args.out / 'manifest.json'}"
                  + (f"; contact sheet: {args.out / 'contact_sheet.png'}"
                     if (args.out / "contact_sheet.png").exists() else ""))
            return code
        if args.command == "sample":
            from pipeline.files import atomic_write_bytes
            from pipeline.population import sample_people, to_toml

            if args.n < 1:
                raise SpecError([f"--n = {args.n} must be at least 1"])
            atomic_write_bytes(args.out, to_toml(sample_people(args.n, args.seed)).encode())
            print(f"wrote {args.n} people to {args.out}")
            return 0
        if args.command == "measure":
            from pipeline.gltf_import import measure_glb

            print(json.dumps(measure_glb(args.file), indent=2))
            return 0
        if args.command == "train":
            if args.model in PLANNED_MODELS:
                raise SpecError([f"train {args.model!r}: that model arrives with its issue; trainable now: "
                                 f"{', '.join(TRAINABLE)}"])
            if args.model not in TRAINABLE:
                raise SpecError([f"train {args.model!r}: unknown model; allowed: {', '.join(TRAINABLE)}"])
            from models.evaluate_decoder import evaluate_and_report
            from models.train_decoder import TrainConfig, train

            if not 0 < args.minutes <= 20:
                raise SpecError([f"--minutes = {args.minutes} is outside the allowed range 0-20"])
            train(args.out, TrainConfig(minutes=args.minutes, seed=args.seed, epochs=args.epochs))
            evaluate_and_report(args.out)
            print(f"decoder weights, config and report in {args.out}")
            return 0
    except SpecError as exc:
        for p in exc.problems:
            print(p, file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
