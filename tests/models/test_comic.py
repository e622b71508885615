"""The comic model: layouts, the tileable generator, a smoke training (32-pixel crops, 20 iterations) from a real
exemplar, its evaluation beside the baselines, the `avatar comic` commands and the weight-free metrics."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from models.comic import train as comic_train
from models.comic.data import LayoutStats, layout, load_exemplar, random_layout, split
from models.comic.evaluate import evaluate, print_report
from models.comic.metrics import (
    RandomFeatures,
    flat_fraction,
    nearest_patch,
    palette_error,
    pooled_seam_ratio,
    seam_ratio,
    wraps,
)
from models.comic.style import ComicStyle, available_styles, resolve_style
from models.comic.train import TrainConfig, shipped_exemplars, train
from pipeline.cli import main
from pipeline.core.comic import screentone
from pipeline.core.resources import weights_dir

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def smoke_style(tmp_path_factory) -> Path:
    """A style trained for 20 iterations on 32-pixel crops of a 128 x 128 piece of the shipped ink exemplar."""
    tmp = tmp_path_factory.mktemp("comic")
    piece = Image.open(ROOT / "assets" / "comic" / "ink.png").convert("RGB").crop((0, 0, 128, 128))
    piece.save(tmp / "piece.png")
    cfg = TrainConfig(minutes=2.0, exemplars=(str(tmp / "piece.png"),), name="smoke", crop=32, batch=4,
                      max_iterations=20, log_every=5, stats_weight=1.0)
    mp = pytest.MonkeyPatch()
    mp.setattr(comic_train, "SNAPSHOT_S", 0.0)  # the early snapshot (at 5 minutes in a real training) at once
    try:
        log = train(tmp / "styles" / "smoke", cfg, progress=False)
    finally:
        mp.undo()
    assert log["iterations"] == 20 and len(log["history"]["d"]) == 4
    return tmp / "styles" / "smoke"


def test_shipped_exemplars_are_there_and_split_three_to_one():
    ex = shipped_exemplars()
    assert set(ex) >= {"ink", "halftone"}
    img = load_exemplar(ex["ink"])
    train_part, held = split(img)
    assert img.dtype == np.float32 and train_part.shape[1] == 3 * held.shape[1] == 768


def test_shipped_weights_were_trained_with_what_retraining_uses():
    """``make train MODEL=comic`` gives each shipped style the options its committed weights were trained with."""
    from models.comic.train import SHIPPED_OPTIONS

    base = dataclasses.asdict(TrainConfig())
    for name in shipped_exemplars():
        used = json.loads((weights_dir("comic") / name / "training_log.json").read_text())["config"]
        expected = {**base, **SHIPPED_OPTIONS.get(name, {})}
        for key in {*SHIPPED_OPTIONS.get(name, {}), "stats_weight", "low_weight", "crop", "batch", "lr", "seed",
                    "minutes"}:
            assert used.get(key, base[key]) == expected[key], (name, key)


def test_exemplar_errors_name_the_file_and_the_limit(tmp_path):
    Image.new("RGB", (20, 300)).save(tmp_path / "thin.png")
    with pytest.raises(ValueError, match=r"thin.png is 20 x 300 pixels; each side must be 32-4096"):
        load_exemplar(tmp_path / "thin.png")
    (tmp_path / "fake.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"fake\.png is not a readable image"):
        load_exemplar(tmp_path / "fake.png")
    with pytest.raises(FileNotFoundError):
        load_exemplar(tmp_path / "missing.png")


def test_random_layouts_wrap_and_follow_the_palette():
    img = load_exemplar(shipped_exemplars()["ink"])[:256, :256]
    stats = LayoutStats.of(img, sigma=4.0, spot_size=128)
    lay = random_layout(stats, 96, np.random.default_rng(3), sigma=4.0, bands=4)
    assert lay.shape == (4, 96, 96) and lay.min() >= 0 and lay.max() <= 1
    assert wraps(lay[:3].transpose(1, 2, 0))
    assert not wraps(load_exemplar(shipped_exemplars()["ink"])[:96, 300:396])  # a crop of an image does not
    again = random_layout(stats, 96, np.random.default_rng(3), sigma=4.0, bands=4)
    other = random_layout(stats, 96, np.random.default_rng(4), sigma=4.0, bands=4)
    assert np.array_equal(lay, again) and not np.allclose(lay, other)
    # mean colour of the layout stays within the exemplar's colour range
    assert np.all(np.abs(lay[:3].mean((1, 2)) - img.reshape(-1, 3).mean(0)) < 0.15)


def _clear_edges(lay: np.ndarray) -> float:
    """Share of a layout's pixels whose colour steps by 0.02 or more to the next pixel right or below."""
    return 1.0 - flat_fraction(lay[:3].transpose(1, 2, 0), step=0.02)


def test_random_layouts_have_the_exemplars_clear_edges():
    """The ink exemplar's flats meet at clear edges, where the ink lines go; random layouts must have them too, not
    only gentle steps through neighbouring palette colours (a spot blurred further than the layout gives 0.38 of the
    exemplar layout's share here, this one 0.59)."""
    img = load_exemplar(shipped_exemplars()["ink"])[:384, :384]
    stats = LayoutStats.of(img, sigma=4.0, spot_size=128)
    real = _clear_edges(layout(img, stats.palette, 4.0, 4, periodic=False))
    drawn = np.mean([_clear_edges(random_layout(stats, 128, np.random.default_rng(k), 4.0, 4)) for k in range(6)])
    assert drawn >= 0.4 * real, (drawn, real)


def test_smoke_training_writes_a_loadable_style_whose_tiles_wrap(smoke_style):
    files = {p.name for p in smoke_style.iterdir()}
    assert {"comic.safetensors", "config.json", "training_log.json", "report_training.png", "exemplars",
            "at_5min"} <= files
    cfg = json.loads((smoke_style / "config.json").read_text())
    assert cfg["style"] == "smoke" and cfg["exemplars"][0]["file"] == "piece.png"
    style = ComicStyle.load(smoke_style)
    for size in (32, 64, 128):
        tile = style.synth(size, seed=5)
        assert tile.shape == (size, size, 3) and tile.dtype == np.uint8
        assert wraps(tile / 255.0)
    assert np.array_equal(style.synth(64, 9), style.synth(64, 9))
    assert not np.array_equal(style.synth(64, 9), style.synth(64, 10))
    with pytest.raises(ValueError, match="multiple of 4"):
        style.synth(66)
    out = style.stylise(np.full((64, 96, 3), 180, np.uint8))
    assert out.shape == (64, 96, 3)


def test_one_allocation_padding_gives_the_convolutions_exactly_what_concatenate_then_pad_did():
    """The generator stacks and wraps each convolution's inputs in one buffer; the values, the convolution and so
    the tiles are the same bytes as ``Conv2d(padding_mode="circular")`` on the concatenation (and gradients agree)."""
    from models.comic import model as comic_model

    gen = torch.Generator().manual_seed(0)
    parts = [torch.randn(2, c, 12, 20, generator=gen) for c in (3, 1, 5)]
    for p in (1, 2, 3):
        expected = torch.nn.functional.pad(torch.cat(parts, 1), (p,) * 4, mode="circular")
        assert torch.equal(comic_model._wrapped(parts, p), expected), p
    style = ComicStyle(comic_model.ComicConfig())
    for prm in style.parameters():  # the output layer starts at zero: give every layer a say
        torch.nn.init.normal_(prm, 0.0, 0.1, generator=gen)
    lay, inks = torch.rand(2, 4, 40, 48, generator=gen), torch.rand(2, 8, 3, generator=gen)
    noise = style.noise(2, 40, 48, gen)
    outputs, grads = [], []
    for apply in (lambda conv, *xs: conv(torch.cat(xs, 1)), comic_model._apply):
        mp = pytest.MonkeyPatch()
        mp.setattr(comic_model, "_apply", apply)
        try:
            style.zero_grad()
            out = style.generator(lay, inks, *noise)
            out.square().mean().backward()
        finally:
            mp.undo()
        outputs.append(out.detach())
        grads.append(torch.cat([p.grad.flatten() for p in style.generator.parameters()]))
    assert torch.equal(outputs[0], outputs[1])
    assert torch.allclose(grads[0], grads[1], rtol=1e-5, atol=1e-7)


def test_the_generator_draws_in_the_palette_it_is_given(smoke_style):
    """Every output pixel is a mix of the given palette's colours; at a low temperature, one of them (flat inks),
    whatever the generator's weights."""
    style = ComicStyle.load(smoke_style)
    g = style.generator
    torch.manual_seed(1)
    torch.nn.init.normal_(g.out.weight, std=0.2)
    palette = torch.rand(2, 5, 3)
    lay = torch.rand(2, 4, 32, 32)
    noise = style.noise(2, 32, 32, torch.Generator().manual_seed(0))
    with torch.no_grad():
        soft = g(lay, palette, *noise)
        g.log_temperature.fill_(-12.0)
        hard = g(lay, palette, *noise)
    for out, tol in ((soft, None), (hard, 1e-2)):
        px = out.permute(0, 2, 3, 1).reshape(2, -1, 3)
        nearest = torch.cdist(px, palette).min(-1).values
        assert out.min() >= palette.min() - 1e-6 and out.max() <= palette.max() + 1e-6
        if tol is not None:
            assert nearest.max() < tol
    assert torch.cdist(soft.permute(0, 2, 3, 1).reshape(2, -1, 3), palette).min(-1).values.max() > 1e-3


def _skin_ramp() -> np.ndarray:
    """(128, 128, 3) float sRGB 0-255: a left-to-right gradient of skin colours."""
    ramp = np.linspace(0.0, 1.0, 128)[None, :, None]
    return (255 * (np.array([0.45, 0.3, 0.2]) + ramp * np.array([0.45, 0.4, 0.35]))).repeat(128, 0)


def test_stylise_keeps_the_colour_of_small_regions_it_is_told_to_keep(smoke_style):
    """A 16 x 16 red patch on a 128 x 128 gradient of skin colours: k-means gives all its colours to the skin, so
    only with ``keep`` does the patch stay red."""
    style = ComicStyle.load(smoke_style)
    img = _skin_ramp()
    mask = np.zeros((128, 128), bool)
    mask[56:72, 56:72] = True
    img[mask] = (200, 20, 30)
    img = img.round().astype(np.uint8)
    red = np.array([200, 20, 30])
    kept = style.stylise(img, seed=3, keep=[mask])[mask].mean(0)
    merged = style.stylise(img, seed=3)[mask].mean(0)
    assert np.linalg.norm(kept - red) < 10 and np.linalg.norm(merged - red) > 20  # 0 and 35 measured


def test_stylise_draws_an_albedo_in_crisper_inks_than_a_tile(smoke_style):
    """An albedo is drawn at ALBEDO_TEMPERATURE times the learned palette temperature: fewer mixed colours (a
    flatter palette) than at the learned one, on the same layout and inks; the tiles keep the learned one."""
    from models.comic.metrics import palette_error
    from models.comic.style import ALBEDO_TEMPERATURE
    from pipeline.core.comic import kmeans_palette

    style = ComicStyle.load(smoke_style)
    img = _skin_ramp().round().astype(np.uint8)
    crisp = style.stylise(img, seed=3)
    soft = style.stylise(img, seed=3, temperature_scale=1.0)
    assert ALBEDO_TEMPERATURE < 1.0 and not np.array_equal(crisp, soft)
    err = [palette_error(x / 255.0, kmeans_palette(x / 255.0, k=8, seed=0)) for x in (crisp, soft)]
    assert len(np.unique(crisp.reshape(-1, 3), axis=0)) < len(np.unique(soft.reshape(-1, 3), axis=0))
    assert err[0] < err[1]


def test_stylise_shows_the_network_an_albedo_in_the_exemplars_tones_and_maps_the_drawing_back(smoke_style):
    """A low-contrast image (a skin ramp a twentieth as steep) reaches the generator spread over the exemplar's range
    of values (its 10-90 % spread is most of TONE_MAP x the exemplar's 1-99 % range, not the image's few
    hundredths), and what is drawn comes back in the image's own range and mean; the tone tables invert."""
    from models.comic.style import TONE_MAP, apply_tone

    style = ComicStyle.load(smoke_style)
    ramp = _skin_ramp()
    img = (ramp.mean((0, 1)) + 0.05 * (ramp - ramp.mean((0, 1)))).round().astype(np.uint8)
    seen = []
    hook = style.generator.register_forward_pre_hook(lambda _m, args: seen.append(args[0][0, :3].numpy().copy()))
    try:
        mapped = style.stylise(img, seed=3)
        plain = style.stylise(img, seed=3, tone_map=0.0)
    finally:
        hook.remove()
    exemplar_range = style.quantiles[:, 252] - style.quantiles[:, 3]  # the exemplar's 1-99 % range, per channel
    spread = [np.percentile(x, 90, axis=(1, 2)) - np.percentile(x, 10, axis=(1, 2)) for x in seen]
    assert TONE_MAP > 0.5
    assert np.all(spread[0] > 0.6 * TONE_MAP * exemplar_range.numpy()) and np.all(spread[1] < 0.05)
    lo, hi = img.reshape(-1, 3).min(0).astype(int), img.reshape(-1, 3).max(0).astype(int)
    for out in (mapped, plain):
        px = out.reshape(-1, 3).astype(int)
        assert np.all(px >= lo - 2) and np.all(px <= hi + 2)
        assert np.abs(px.mean(0) - img.reshape(-1, 3).mean(0)).max() < 4
    tables = style.tone_tables(img / 255.0, 1.0)  # invertible over the image's range, where inks and drawing lie
    x = (lo + np.random.default_rng(0).random((50, 3)) * (hi - lo)).astype(np.float32) / 255.0
    assert np.abs(apply_tone(apply_tone(x, tables), tables, inverse=True) - x).max() < 1e-3  # a quarter of 1/255


def test_stylise_keeps_the_colour_of_a_thin_kept_region(smoke_style):
    """A 2-texel dark line (an eyebrow's width at 1024) kept with ``keep`` stays near its own colour: it stands in
    the layout in its unsmoothed mean, not in the smoothed one, which is halfway to the skin around it."""
    style = ComicStyle.load(smoke_style)
    img = _skin_ramp()
    mask = np.zeros((128, 128), bool)
    mask[60:62, 20:108] = True
    brow = np.array([60, 40, 30])
    img[mask] = brow
    img = img.round().astype(np.uint8)
    skin = img[~mask].mean(0)
    kept = style.stylise(img, seed=3, keep=[mask])[mask].mean(0)
    assert np.linalg.norm(kept - brow) < 0.25 * np.linalg.norm(skin - brow)


def test_a_circularly_padded_generator_is_what_makes_the_tile_wrap(smoke_style):
    """A generator drawing strongly (random weights) wraps with circular padding, not with zero padding; the
    pooled seam ratio and ``wraps`` both see it."""
    style = ComicStyle.load(smoke_style)
    torch.manual_seed(0)
    for m in style.generator.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, a=0.2)
            torch.nn.init.normal_(m.bias, std=0.1)
    torch.nn.init.normal_(style.generator.out.weight, std=0.05)
    tiles = [style.synth(64, s) / 255.0 for s in range(4)]
    assert all(wraps(t) for t in tiles) and pooled_seam_ratio(tiles) <= 1.1
    for m in style.generator.modules():
        if hasattr(m, "padding_mode"):
            m.padding_mode = "zeros"
    tiles = [style.synth(64, s) / 255.0 for s in range(4)]
    assert not all(wraps(t) for t in tiles) and pooled_seam_ratio(tiles) > 2.0


def test_evaluation_prints_every_row_and_checks(smoke_style, capsys):
    r = evaluate(smoke_style, seed=11, n=2, optimiser_minutes=0.01, seam_sizes=(32, 64), avatars=1)
    assert set(r["rows"]) == {"gan", "gan_5min", "gram_optimiser", "sliced_wasserstein_optimiser", "noise",
                              "blur", "patch_shuffle", "training_crops"}
    assert r["floor"]["side"] == 32 and r["floor"]["crops"] == 4
    # trivial baselines behave as they must: noise is far from the exemplar and never flat; pieces of the
    # training part are near it, patch for patch
    rows = r["rows"]
    assert rows["noise"]["gram"] > r["floor"]["gram"] and rows["noise"]["flat_fraction"] < 0.05
    assert rows["patch_shuffle"]["nearest_patch"] < rows["noise"]["nearest_patch"] / 3
    # real crops of the training part are copies of it, patch for patch
    assert rows["training_crops"]["nearest_patch"] < rows["noise"]["nearest_patch"] / 100
    assert r["same_seed_same_bytes"] and set(r["acceptance"]) >= {"seam_ratio_le_1.1_all_sizes", "not_a_copy"}
    # the tiles wrap: pooled over 8 tiles per size the wrap edge steps about as the inside does (1.00-1.05 here; a
    # seam gives over 2, see the padding test below). ``wraps`` on single tiles is not asserted: on a smooth 32-64 px
    # smoke tile the wrap column is the largest step in about 3 % of seeds (6 and 4 of 200 measured), so it would
    # hold or not by the seed draw
    assert isinstance(r["wraps_all_sizes"], bool)
    assert all(v <= 1.5 for v in r["seam_ratio_by_size"].values()), r["seam_ratio_by_size"]
    # how the seed-diversity statistic scatters: real crops of the training part differ from each other about as
    # held-out crops do (the same image; a crop compared with itself would give 0)
    d = r["diversity_spread"]
    assert d["draws"] == 200 and d["n"] == 2
    assert 0.5 * r["floor"]["pixel_l1"] < d["training_crops"]["mean"] < 2.0 * r["floor"]["pixel_l1"], d
    for k in ("training_crops", "gan"):
        assert d[k]["sd"] > 0 and 0.0 <= d[k]["share_ge_floor"] <= 1.0
    print_report(r)
    assert "over 200 draws of 2: training crops" in capsys.readouterr().out


def test_comic_commands_list_and_synth(smoke_style, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AVATAR_STYLES", str(smoke_style.parent))
    assert "smoke" in available_styles() and resolve_style("smoke") == smoke_style
    assert main(["comic", "list"]) == 0
    assert "smoke" in capsys.readouterr().out.split()
    assert main(["comic", "synth", "--style", "smoke", "--size", "64", "--seed", "2", "--out",
                 str(tmp_path / "t.png")]) == 0
    tile = np.asarray(Image.open(tmp_path / "t.png"))
    assert np.array_equal(tile, ComicStyle.load(smoke_style).synth(64, 2))
    assert main(["comic", "synth", "--style", "nosuch", "--size", "64", "--out", str(tmp_path / "u.png")]) == 2
    assert "unknown comic style 'nosuch'; styles:" in capsys.readouterr().err
    assert main(["comic", "synth", "--style", "smoke", "--size", "30", "--out", str(tmp_path / "u.png")]) == 2
    assert "--size = 30" in capsys.readouterr().err
    assert main(["train", "comic", "--exemplar", str(tmp_path / "nosuch.png")]) == 2
    assert main(["train", "decoder", "--exemplar", str(tmp_path / "t.png"), "--out", str(tmp_path)]) == 2
    assert "does not take it" in capsys.readouterr().err


def test_metrics_measure_what_they_say():
    tile = screentone(64, period=8.0, angle_deg=45.0, tone=0.4)
    rgb = np.repeat(tile[..., None], 3, axis=2)
    assert seam_ratio(rgb) < 1.1
    ramp = np.repeat(np.linspace(0, 1, 64)[None, :, None], 64, 0).repeat(3, 2)
    assert seam_ratio(ramp) > 10
    assert flat_fraction(np.full((16, 16, 3), 0.3)) == 1.0 and flat_fraction(rgb) < 0.9
    pal = np.array([[0.0, 0, 0], [1.0, 1, 1]])
    assert palette_error(rgb.round(), pal) == 0.0 and palette_error(np.full((4, 4, 3), 0.5), pal) > 0.8
    feats = RandomFeatures(1)
    noise = np.random.default_rng(0).random((64, 64, 3))
    assert feats.gram(rgb, rgb) == 0.0 and feats.gram(noise, rgb) > 0.1
    assert abs(feats.sifid(rgb, rgb)) < 1e-6 and feats.sifid(noise, rgb) > 0.01
    assert nearest_patch(rgb, rgb) == 0.0 and nearest_patch(noise, rgb) > 0.1


def test_training_statistics_are_the_metrics_statistics_and_carry_gradients():
    feats = RandomFeatures(3)
    rng = np.random.default_rng(0)
    tone = np.repeat(screentone(64, period=8.0, angle_deg=45.0, tone=0.4)[..., None], 3, axis=2)
    real = torch.from_numpy(np.stack([tone, tone]).transpose(0, 3, 1, 2).astype(np.float32))
    # one image's batch statistics are the Gram matrices that ``gram`` compares
    for a, b in zip(feats.batch_statistics(real[:1]), feats.grams(real[:1]), strict=False):
        assert torch.allclose(a, b, atol=1e-6)
    ref = feats.batch_statistics(real)
    assert float(feats.statistics_distance(real, ref)) < 1e-6
    fake = torch.from_numpy(rng.random((2, 3, 64, 64)).astype(np.float32)).requires_grad_(True)
    d = feats.statistics_distance(fake, ref)
    d.backward()
    assert float(d.detach()) > 0.1 and float(fake.grad.abs().sum()) > 0.0
