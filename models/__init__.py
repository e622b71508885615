"""Torch models of the avatar pipeline (the only package that imports torch).

Before torch loads, OpenMP's idle threads are told to sleep rather than spin (``OMP_WAIT_POLICY=PASSIVE``, unless
the environment says otherwise). Spinning workers of torch's pool keep cores busy after each parallel region; on
a 2-core machine they took the cores numpy's BLAS needed next (decode + assembly of 128 bodies: 19 ms instead of
12 ms) and, with one competing process, made a 2-thread refined decode 2x slower in the median and 13x at worst
(171 ms instead of 13 ms; passive: 23 ms at worst). Measured by ``bench/bench_decoder.py``.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
