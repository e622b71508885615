"""The ``avatar`` command (also ``python -m pipeline``): generate, sample, measure, train, evaluate, comic, enhance,
models.

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
    g.add_argument("--enhance", action="store_true",
                   help="with --preview-engine cycles or eevee: render half resolution plus passes and enhance them "
                        "with the render enhancer (same look, a fraction of the render time)")
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
    t.add_argument("--out", type=Path, default=None, help="folder for weights, config, training log and report "
                                                         "(comic: default the user styles folder / the style name)")
    t.add_argument("--data", type=Path, default=None,
                   help="fine-tune on a folder of your own data (texture: see the README's folder format)")
    t.add_argument("--exemplar", type=Path, nargs="+", default=None,
                   help="comic: exemplar images (PNG/JPEG) of a new style (the first one names it)")
    t.add_argument("--name", default=None, help="comic: the new style's name (default: the first exemplar's stem)")

    e = sub.add_parser("evaluate", help="judge a model on held-out data, beside its baselines")
    e.add_argument("model", help="model name")
    e.add_argument("--weights", type=Path, default=None, help="weights folder (default: the shipped weights)")
    e.add_argument("--seed", type=int, default=None, help="held-out set: a seed training never used (default: the "
                                                          "committed held-out set)")
    e.add_argument("--n", type=int, default=None, help="bodies per held-out set (default: all)")
    e.add_argument("--out", type=Path, default=None, help="also write report.json and report.png here")
    e.add_argument("--style", default=None, help="comic: the style to judge, a name or a folder (default: all)")
    e.add_argument("--optimiser-minutes", type=float, default=None,
                   help="comic: CPU minutes given to each weight-free optimiser baseline (default 5)")

    c = sub.add_parser("comic", help="comic styles: list them, or synthesise a seamless tile")
    csub = c.add_subparsers(dest="comic_command", required=True)
    csub.add_parser("list", help="the shipped and trained style names, one per line")
    cs = csub.add_parser("synth", help="write one seamless N x N tile of a style")
    cs.add_argument("--style", required=True, help="a style name (`avatar comic list`) or a style folder")
    cs.add_argument("--size", type=int, required=True, help="tile side in pixels: a multiple of 4, 32-4096")
    cs.add_argument("--seed", type=int, default=0)
    cs.add_argument("--out", type=Path, required=True, help="PNG file to write")

    en = sub.add_parser("enhance", help="enhance renders: half-resolution colour plus passes -> full resolution")
    en.add_argument("folder", type=Path, help="a folder of passes files (*.npz; see the README's layout), e.g. an "
                                              "avatar's passes/ from `generate --preview-engine cycles --enhance`")
    en.add_argument("--out", type=Path, required=True, help="folder for the enhanced PNGs")
    en.add_argument("--weights", type=Path, default=None, help="weights folder (default: the shipped enhancer)")

    sub.add_parser("models", help="the trainable models, one per line")
    return ap


def _generate(args: argparse.Namespace) -> int:
    from pipeline.jobs.batch import generate
    from pipeline.jobs.options import GenerateOptions

    print(f"Generating avatars of {args.spec} into {args.out} ...", flush=True)
    manifest, code = generate(args.spec, GenerateOptions(
        out=args.out, formats=args.formats, rig=args.rig, names=args.names, preview=not args.no_preview,
        refine=not args.no_refine, resume=args.resume, workers=args.workers, preview_engine=args.preview_engine,
        texture_size=args.texture_size, backend=args.backend, ray_address=args.ray_address, enhance=args.enhance))
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
    fields = {f.name for f in dataclasses.fields(config_cls)}
    for key, value in (("exemplars", args.exemplar), ("name", args.name)):
        if value is not None:
            if key not in fields:
                raise SpecError([f"--{key.rstrip('s')}: model {args.model!r} does not take it"])
            changes[key] = tuple(str(p) for p in value) if key == "exemplars" else value
    if args.out is None and "exemplars" not in changes:
        raise SpecError([f"--out is required to train {args.model!r}"])
    if args.name is not None and (not args.name.replace("_", "").replace("-", "").isalnum() or len(args.name) > 64):
        raise SpecError([f"--name = {args.name!r}: a style name is 1-64 letters, digits, '-' or '_'"])
    config = dataclasses.replace(config_cls(), **changes)
    out = entry.resolve("train")(args.out, config)
    out = args.out or Path(out["folder"])
    entry.resolve("evaluate")(out, out=out, **dict(entry.after_training))
    print(f"{args.model}: weights, config, training log and report in {out}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from models.common.registry import get

    entry = get(args.model)
    if args.n is not None and args.n < 1:
        raise SpecError([f"--n = {args.n} must be at least 1"])
    extra = {}
    if args.model == "comic":
        extra["style"] = args.style
        if args.optimiser_minutes is not None:
            if not 0 < args.optimiser_minutes <= 60:
                raise SpecError([f"--optimiser-minutes = {args.optimiser_minutes} is outside the allowed range 0-60"])
            extra["optimiser_minutes"] = args.optimiser_minutes
    elif args.style is not None or args.optimiser_minutes is not None:
        raise SpecError([f"--style and --optimiser-minutes apply to the comic model, not {args.model!r}"])
    entry.resolve("evaluate")(args.weights, seed=args.seed, n=args.n, out=args.out, **extra)
    return 0


def _comic(args: argparse.Namespace) -> int:
    from models.comic.style import ComicStyle, available_styles

    if args.comic_command == "list":
        for name in available_styles():
            print(name)
        return 0
    from PIL import Image

    from pipeline.core.files import atomic_save_png

    style = ComicStyle.load(args.style)
    tile = style.synth(args.size, args.seed)
    atomic_save_png(args.out, Image.fromarray(tile))
    print(f"wrote a {args.size} x {args.size} tile of {args.style!r} (seed {args.seed}) to {args.out}")
    return 0


def _enhance(args: argparse.Namespace) -> int:
    from models.enhancer.infer import enhance_folder
    from models.enhancer.model import RenderEnhancer

    if not args.folder.is_dir():
        raise SpecError([f"{args.folder}: not a folder"])
    try:
        written = enhance_folder(args.folder, args.out, RenderEnhancer.load(args.weights))
    except ValueError as exc:
        raise SpecError([str(exc)]) from None
    print(f"enhanced {len(written)} render(s) into {args.out}")
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
        if args.command == "comic":
            return _comic(args)
        if args.command == "enhance":
            return _enhance(args)
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
