"""Procedural comic primitives: tiles wrap exactly, coverage follows the tone, outlines sit on edges, palettes and
cel bands quantise as documented, bad parameters are named."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.core.comic import (
    cel_bands,
    gaussian_blur,
    hatching,
    kmeans_palette,
    lattice_vector,
    quantise,
    screentone,
    xdog,
)

TONES = (0.05, 0.2, 0.4, 0.6, 0.8, 0.95)


@pytest.mark.parametrize("make", [screentone, hatching])
def test_tiles_wrap_exactly(make):
    # a tile whose lattice vectors are integer frequencies repeats: two copies side by side are the pattern of the
    # doubled tile with the same period and angle
    tile = make(96, 12.0, 30.0, 0.35)
    assert np.allclose(np.tile(tile, (2, 2)), make(192, 12.0, 30.0, 0.35), atol=1e-9)


@pytest.mark.parametrize("make", [screentone, hatching])
def test_coverage_follows_the_tone(make):
    for t in TONES:
        assert abs(make(128, 8.0, 45.0, t, soft=0).mean() - t) < 2 / 128, t  # binary: exact to a pixel row
        assert abs(make(128, 8.0, 45.0, t).mean() - t) < 0.04, t  # anti-aliased edges
    assert make(64, tone=0.0).max() == 0.0 and make(64, tone=1.0).min() == 1.0


def test_a_tone_map_halftones_an_image():
    ramp = np.linspace(0, 1, 256)[None].repeat(256, 0)
    ink = screentone(256, 6.0, 45.0, ramp)
    cols = ink.reshape(256, 8, 32).mean(axis=(0, 2))  # coverage per 32-pixel column strip
    assert np.all(np.diff(cols) > 0) and abs(cols[0] - ramp[0, :32].mean()) < 0.05
    assert abs(cols[-1] - ramp[0, -32:].mean()) < 0.05


def test_dot_gain_darkens_midtones_only():
    plain, gained = screentone(128, tone=0.5, soft=0).mean(), screentone(128, tone=0.5, dot_gain=0.1, soft=0).mean()
    assert abs(gained - (0.5 + 0.1)) < 2 / 128 and gained > plain
    assert screentone(128, tone=1.0, dot_gain=0.5).min() == 1.0


def test_lattice_meets_period_and_angle():
    k = lattice_vector(512, 8.0, 45.0)
    assert abs(512 / np.hypot(*k) - 8.0) < 0.1
    assert abs(np.degrees(np.arctan2(-k[1], k[0])) - 45.0) < 1.0


def test_cross_hatching_starts_at_its_tone():
    light, dark = hatching(128, 6.0, 0.0, 0.3, soft=0), hatching(128, 6.0, 0.0, 0.7, soft=0)
    # angle 0: lines vary along x only until the second set (varying along y) joins
    assert np.allclose(light, light[:1]) and not np.allclose(dark, dark[:1])


def test_xdog_inks_the_outline_of_a_disc_not_its_inside():
    y, x = np.mgrid[0:128, 0:128]
    r = np.hypot(x - 64, y - 64)
    ink = xdog(np.where(r < 30, 0.2, 0.9), sigma=1.0)
    ring, inside, outside = (r > 25) & (r < 32), r < 20, r > 40  # XDoG inks the dark side of an edge
    assert ink[ring].sum() > 0.95 * ink.sum()  # the ink is on the outline
    assert ink[ring].mean() > 0.3 and ink[inside].mean() < 0.01 and ink[outside].mean() < 0.01
    angle = np.digitize(np.arctan2(y - 64, x - 64)[ring], np.linspace(-np.pi, np.pi, 17))
    assert np.all(np.bincount(angle, weights=ink[ring], minlength=18)[1:17] > 1.0)  # all the way round


def test_periodic_blur_wraps_and_mirrored_blur_does_not():
    img = np.zeros((64, 64))
    img[:, :4] = 1.0
    assert gaussian_blur(img, 2.0)[:, -1].mean() > 0.2  # the bar leaks across the wrap edge
    assert gaussian_blur(img, 2.0, periodic=False)[:, -1].mean() < 1e-3
    assert abs(gaussian_blur(img, 2.0).mean() - img.mean()) < 1e-12  # light is kept


def test_blur_channel_by_channel_gives_the_whole_array_transform_exactly():
    """The blur transforms one channel at a time: the same bytes as the transform over axes (0, 1) of the whole
    (H, W, C) array (periodic and mirrored, odd sizes, 2-D and 3-D images)."""
    rng = np.random.default_rng(5)
    for shape in ((64, 64, 3), (37, 52, 3), (40, 33), (31, 30, 4)):
        img = rng.random(shape)
        for periodic in (True, False):
            h, w = shape[:2]
            src = img if periodic else np.pad(img, [(h // 2, h // 2), (w // 2, w // 2)] + [(0, 0)] * (img.ndim - 2),
                                              mode="symmetric")
            fy, fx = np.fft.fftfreq(src.shape[0])[:, None], np.fft.rfftfreq(src.shape[1])[None, :]
            g = np.exp(-2.0 * (np.pi * 2.5) ** 2 * (fx * fx + fy * fy))
            g = g[..., None] if src.ndim == 3 else g
            whole = np.fft.irfft2(np.fft.rfft2(src, axes=(0, 1)) * g, s=src.shape[:2], axes=(0, 1))
            whole = whole if periodic else whole[h // 2: h // 2 + h, w // 2: w // 2 + w]
            assert np.array_equal(gaussian_blur(img, 2.5, periodic), whole), (shape, periodic)


def test_quantisation_in_blocks_of_rows_gives_the_whole_array_ranking_exactly():
    from pipeline.core.comic import QUANTISE_ROWS

    rng = np.random.default_rng(6)
    pal = rng.random((8, 3))
    for n in (QUANTISE_ROWS * 3 + 17, 100):
        img = rng.random((n, 1, 3))
        q, idx = quantise(img, pal)
        whole = np.argmin((pal * pal).sum(-1)[None] - 2.0 * (img.reshape(-1, 3) @ pal.T), axis=1)
        assert np.array_equal(idx.ravel(), whole) and np.array_equal(q.reshape(-1, 3), pal[whole])


def test_palette_and_quantisation_recover_known_colours():
    rng = np.random.default_rng(1)
    colours = np.array([[0.1, 0.1, 0.2], [0.8, 0.3, 0.2], [0.9, 0.9, 0.8]])
    img = colours[rng.integers(0, 3, (64, 64))] + rng.normal(0, 0.02, (64, 64, 3))
    pal = kmeans_palette(img, 3, seed=0)
    assert np.abs(pal - colours).max() < 0.02
    q, idx = quantise(img, pal)
    assert set(np.unique(idx)) == {0, 1, 2} and np.abs(q - colours[np.argsort(colours.sum(1))][idx]).max() < 0.02
    assert np.array_equal(kmeans_palette(img, 3, seed=0), pal)  # same seed, same palette


def test_cel_bands_give_flat_levels():
    out = cel_bands(np.linspace(0, 1, 1000)[None], 3, 0.2, 1.0)
    assert np.allclose(np.unique(out), [0.2, 0.6, 1.0])


@pytest.mark.parametrize("call,name", [
    (lambda: screentone(64, tone=1.5), "tone"),
    (lambda: screentone(64, period=1.0), "period"),
    (lambda: hatching(64, cross_from=-0.1), "cross_from"),
    (lambda: screentone(64, dot_gain=2.0), "dot_gain"),
    (lambda: cel_bands(np.zeros((2, 2)), 1), "bands"),
    (lambda: kmeans_palette(np.zeros((2, 3)), 5), "k"),
])
def test_bad_parameters_are_named(call, name):
    with pytest.raises(ValueError, match=name):
        call()
