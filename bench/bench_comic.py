"""Speed of the comic styles: one 512 x 512 seamless tile (random layout + generator), and the stylisation of a
1024 x 1024 albedo, beside the procedural screentone of the same size (numpy), the random layout alone and the
tile with each convolution's inputs concatenated and then padded by ``Conv2d(padding_mode="circular")`` (the same
bytes, two copies instead of one), in the same run.

Not a test. Prints the thread count, the load average and the median of ``--repeats`` runs of each (after a
warm-up), and the ratios. Usage: ``python bench/bench_comic.py [--style ink] [--threads 2] [--repeats 7]``.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import torch
from timing import wall_times


def _median_ms(fn, repeats: int) -> float:
    fn()
    return 1000.0 * float(np.median(wall_times(fn, repeats)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--style", default="ink")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from models.comic import model as comic_model
    from models.comic.data import random_layout
    from models.comic.style import ComicStyle
    from pipeline.core.comic import screentone
    from pipeline.core.resources import body_data_dir
    from pipeline.core.skin_tone import skin_albedo

    style = ComicStyle.load(args.style)
    albedo = skin_albedo(body_data_dir(), 1024, skin_ita=30.0)
    seed = {"k": 0}

    def tile() -> None:
        seed["k"] += 1
        style.synth(512, seed["k"])

    def layout_only() -> None:
        random_layout(style.stats, 512, np.random.default_rng(seed["k"]), style.cfg.sigma, style.cfg.bands)

    t_tile = _median_ms(tile, args.repeats)
    one_allocation = comic_model._apply
    comic_model._apply = lambda conv, *parts: conv(torch.cat(parts, 1))
    try:
        t_cat_pad = _median_ms(tile, args.repeats)
    finally:
        comic_model._apply = one_allocation
    t_layout = _median_ms(layout_only, args.repeats)
    t_tone = _median_ms(lambda: screentone(512, 7.0, 45.0, 0.4), args.repeats)
    t_style = _median_ms(lambda: style.stylise(albedo, 1), max(3, args.repeats // 2))
    print(f"threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPUs")
    print(f"style {args.style!r}: 512^2 seamless tile {t_tile:7.1f} ms (bar 350), of which the random layout "
          f"{t_layout:6.1f} ms; concatenated then padded {t_cat_pad:7.1f} ms (ratio {t_tile / t_cat_pad:.3f})")
    print(f"procedural screentone 512^2 (numpy): {t_tone:6.1f} ms; the GAN tile is {t_tile / t_tone:.1f}x it")
    print(f"stylise a 1024^2 albedo: {t_style:7.1f} ms")


if __name__ == "__main__":
    main()
