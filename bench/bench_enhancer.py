"""Speed of the render enhancer: one 512 x 512 and one 1024 x 1024 output from random passes of the right shapes
(the network's time does not depend on the pixels) through ``RenderEnhancer.infer`` (tiled, channels-last), beside
the untiled forward pass, bicubic upsampling of the same half-resolution colour and the demodulated bicubic
estimate, in the same run.

Not a test. Prints the thread count, the load average and the median of ``--repeats`` runs of each (after a
warm-up), and the ratios. Usage: ``python bench/bench_enhancer.py [--threads 2] [--repeats 7] [--weights DIR]``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from timing import wall_times


def _median_ms(fn, repeats: int) -> float:
    fn()
    return 1000.0 * float(np.median(wall_times(fn, repeats)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--weights", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from models.enhancer.model import RenderEnhancer

    model = RenderEnhancer.load(args.weights)
    g = torch.Generator().manual_seed(0)
    print(f"threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPUs; "
          f"RenderEnhancer {sum(p.numel() for p in model.parameters())} parameters")
    for size, bar in ((512, 100), (1024, 400)):
        t_net, t_whole, t_bic, t_dem = _time_size(model, size, g, args.repeats)
        print(f"{size}^2 output: enhancer {t_net:7.1f} ms (bar {bar}; untiled {t_whole:.1f} ms), bicubic "
              f"{t_bic:6.1f} ms, demodulated bicubic {t_dem:6.1f} ms; the enhancer is {t_net / t_bic:.1f}x bicubic")


def _time_size(model, size: int, g: torch.Generator, repeats: int) -> tuple[float, float, float, float]:
    """Median ms of the enhancer (tiled, untiled), bicubic and demodulated bicubic for a ``size`` x ``size``
    output."""
    from models.enhancer.model import demodulated_bicubic

    h = size // 2
    low, low_albedo = torch.rand(1, 3, h, h, generator=g), torch.rand(1, 3, h, h, generator=g)
    low_alpha = (torch.rand(1, 1, h, h, generator=g) > 0.3).float()
    albedo, normal = torch.rand(1, 3, size, size, generator=g), torch.rand(1, 3, size, size, generator=g) * 2 - 1
    depth, alpha = torch.rand(1, 1, size, size, generator=g) * 2 - 1, F.interpolate(low_alpha, scale_factor=2)
    with torch.inference_mode():
        return (_median_ms(lambda: model.infer(low, low_albedo, low_alpha, albedo, normal, depth, alpha), repeats),
                _median_ms(lambda: model(low, low_albedo, low_alpha, albedo, normal, depth, alpha), repeats),
                _median_ms(lambda: F.interpolate(low, size=(size, size), mode="bicubic"), repeats),
                _median_ms(lambda: demodulated_bicubic(low, low_albedo, low_alpha, albedo, alpha), repeats))


if __name__ == "__main__":
    main()
