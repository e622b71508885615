"""Speed of the skin maps: the TextureDecoder's three 1024 x 1024 maps as uint8, beside the procedural generator
that made its training data and the flat stand-in, in the same run.

Not a test. Prints the thread count, the load average and the median of ``--repeats`` runs of each (after three
warm-ups), and the ratios. Usage: ``python bench/bench_texture.py [--threads 2] [--repeats 9]``.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import torch
from timing import wall_times


def _median_ms(fn, repeats: int, warmup: int = 3) -> float:
    """Median of ``repeats`` calls after ``warmup`` calls (torch's allocator and thread pool settle over the first
    few 1024 maps: 118, 97, 82, 69, 53 ms for the first five, measured)."""
    for _ in range(warmup - 1):
        fn()
    return 1000.0 * float(np.median(wall_times(fn, repeats)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from models.texture.data import HAIR_COLORS, SkinRequest, noise_for_seed, procedural_maps, stack_noise
    from models.texture.infer import skin_maps
    from models.texture.model import TextureDecoder
    from pipeline.core.resources import body_data_dir
    from pipeline.core.skin_tone import skin_albedo

    model = TextureDecoder.load()
    reqs = [SkinRequest(ita=float(i), age=40.0, sex=1.0, hair=HAIR_COLORS["brown"], freckles=0.2, seed=k)
            for k, i in enumerate((-40, 0, 30, 60))]
    state = {"k": 0}

    def network() -> None:
        state["k"] += 1
        skin_maps(model, [reqs[state["k"] % 4]])

    def generator() -> None:
        r = reqs[state["k"] % 4]
        procedural_maps([r], stack_noise([noise_for_seed(r.seed)]))

    def flat() -> None:
        skin_albedo(body_data_dir(), 1024, skin_ita=30.0)

    net = _median_ms(network, args.repeats)
    gen = _median_ms(generator, max(3, args.repeats // 3))
    std = _median_ms(flat, args.repeats)
    print(f"threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPUs")
    print(f"TextureDecoder, albedo + normal + roughness 1024^2 uint8: {net:7.1f} ms (bar 150, goal 80)")
    print(f"procedural generator (its training data), same maps, float: {gen:7.1f} ms ({gen / net:.1f}x the network)")
    print(f"flat stand-in, albedo only: {std:7.1f} ms")


if __name__ == "__main__":
    main()
