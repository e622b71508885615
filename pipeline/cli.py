"""The ``avatar`` command (also ``python -m pipeline``): generate, sample, measure, train, evaluate, models.

Exit code 0 only when everything asked for was made; problems go to stderr, one readable line each.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipeline.core.export_targets import FORMATS
from pipeline.core.rig_names import NAME_SETS, RIG_NAMES
from pipeline.core.skin_tone import TEXTURE_SIZES
from pipeline.core.spec import SpecError
from pipeline.jobs.lock import FolderLocked


def _formats(text: str) -> tuple[str, ...]:
    return tuple(f.strip() for f in text.split(",") if f.strip())


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="avatar", description="Rigged, metric avatars from attribute specs.")
    sub = ap.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="make the avatars of a spec file")
    g.add_argument("--spec", type=Path, required=True, help="TOML (or JSON) spec with [[avatar]] tables")
    g.add_argument("--out", type=Path, required=True, help="output folder")
    g.add_argument("--formats", type=_formats, default=("glb",), help=f"comma-separated: {', '.join(FORMATS)}")
    g.add_argument("--rig", default="game_engine", help=" | ".join(RIG_NAMES))
    g.add_argument("--names", default="internal", help=f"{' | '.join(NAME_SETS)} (bone names of the game_engine rig)")
    g.add_argument("--no-preview", action="store_true", help="skip the previews and the contact sheet")
    g.add_argument("--preview-engine", default="pyrender",
                   help="pyrender (fast, CPU-posed) | eevee | cycles (rendered by Blender from the built avatar)")
    g.add_argument("--texture-size", type=int, default=1024,
                   help=f"albedo texture size: {', '.join(map(str, TEXTURE_SIZES))}")
    g.add_argument("--no-refine", action="store_true", help="skip measurement refinement (decoder only)")
    g.add_argument("--resume", action="store_true",
                   help="skip avatars already made from the same request with whole files")
    g.add_argument("--workers", type=int, default=1, help="parallel local worker processes, or Ray actors")
    g.add_argument("--backend", default="local", help="local (this machine's processes) | ray (Ray actors)")
    g.add_argument("--ray-address", default=None,
                   help="the Ray cluster to join: an address, or auto for the one `ray start` runs here "
                        "(default: start a local one for the batch)")

    s = sub.add_parser("sample", help="write a realistic spec for N people")
    s.add_argument("--n", type=int, required=True)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", type=Path, required=True)

    m = sub.add_parser("measure", help="measurements of an avatar GLB made by this pipeline, as JSON")
    m.add_argument("file", type=Path)

    t = sub.add_parser("train", help="retrain a model (see `avatar models`)")
    t.add_argument("model", help="model name")
    t.add_argument("--minutes", type=float, default=None, help="time cap on this machine (default: the model's budget)")
    t.add_argument("--seed", type=int, default=None, help="training seed (default: the model's)")
    t.add_argument("--out", type=Path, required=True, help="folder for weights, config, training log and report")
    t.add_argument("--data", type=Path, default=None,
                   help="fine-tune on a folder of your own data (texture: see the README's folder format)")

    e = sub.add_parser("evaluate", help="judge a model on held-out data, beside its baselines")
    e.add_argument("model", help="model name")
    e.add_argument("--weights", type=Path, default=None, help="weights folder (default: the shipped weights)")
    e.add_argument("--seed", type=int, default=None, help="held-out set: a seed training never used (default: the "
                                                          "committed held-out set)")
    e.add_argument("--n", type=int, default=None, help="bodies per held-out set (default: all)")
    e.add_argument("--out", type=Path, default=None, help="also write report.json and report.png here")

    sub.add_parser("models", help="the trainable models, one per line")
    return ap


def _generate(args: argparse.Namespace) -> int:
    from pipeline.jobs.batch import generate
    from pipeline.jobs.options import GenerateOptions

    print(f"Generating avatars of {args.spec} into {args.out} ...", flush=True)
    manifest, code = generate(args.spec, GenerateOptions(
        out=args.out, formats=args.formats, rig=args.rig, names=args.names, preview=not args.no_preview,
        refine=not args.no_refine, resume=args.resume, workers=args.workers, preview_engine=args.preview_engine,
        texture_size=args.texture_size, backend=args.backend, ray_address=args.ray_address))
    done = sum(v["status"] == "done" for v in manifest["avatars"].values())
    sheet = args.out / "contact_sheet.png"
    print(f"{done}/{len(manifest['avatars'])} avatars made in {manifest['timings_s']['total']:.1f} s; "
          f"manifest: {args.out / 'manifest.json'}" + (f"; contact sheet: {sheet}" if sheet.exists() else ""))
    return code


def _train(args: argparse.Namespace) -> int:
    import dataclasses

    from models.common.registry import get

    entry = get(args.model)
    if args.minutes is not None and not 0 < args.minutes <= entry.max_minutes:
        raise SpecError([f"--minutes = {args.minutes} is outside the allowed range 0-{entry.max_minutes:g}"])
    config_cls = entry.resolve("config")
    changes = {k: v for k, v in (("minutes", args.minutes), ("seed", args.seed)) if v is not None}
    if args.data is not None:
        if "data" not in {f.name for f in dataclasses.fields(config_cls)}:
            raise SpecError([f"--data: model {args.model!r} does not fine-tune on a data folder"])
        if not args.data.is_dir():
            raise SpecError([f"--data = {str(args.data)!r} is not a folder"])
        changes["data"] = str(args.data)
    config = dataclasses.replace(config_cls(), **changes)
    entry.resolve("train")(args.out, config)
    entry.resolve("evaluate")(args.out, out=args.out)
    print(f"{args.model}: weights, config, training log and report in {args.out}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from models.common.registry import get

    entry = get(args.model)
    if args.n is not None and args.n < 1:
        raise SpecError([f"--n = {args.n} must be at least 1"])
    entry.resolve("evaluate")(args.weights, seed=args.seed, n=args.n, out=args.out)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "generate":
            return _generate(args)
        if args.command == "sample":
            from pipeline.core.files import atomic_write_bytes
            from pipeline.core.population import sample_people, to_toml

            if args.n < 1:
                raise SpecError([f"--n = {args.n} must be at least 1"])
            atomic_write_bytes(args.out, to_toml(sample_people(args.n, args.seed)).encode())
            print(f"wrote {args.n} people to {args.out}")
            return 0
        if args.command == "measure":
            from pipeline.formats.glb_read import measure_glb

            print(json.dumps(measure_glb(args.file), indent=2))
            return 0
        if args.command == "train":
            return _train(args)
        if args.command == "evaluate":
            return _evaluate(args)
        if args.command == "models":
            from models.common.registry import REGISTRY

            for name, entry in REGISTRY.items():
                print(f"{name}\t{entry.summary}")
            return 0
    except SpecError as exc:
        for p in exc.problems:
            print(p, file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError, FolderLocked) as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the output folder stopped being writable (full, removed, read-only)
        where = f": {exc.filename2 or exc.filename}" if exc.filename else ""
        print(f"{args.command}: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
