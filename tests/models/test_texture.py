"""The neural skin texture: the biophysical data, the generator, the TextureDecoder, training and fine-tuning."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from models.texture import skin_optics
from models.texture.data import (
    BLOOD,
    HAIR_COLORS,
    MELANIN,
    SkinRequest,
    default_freckles,
    default_hair,
    noise_for_seed,
    procedural_maps,
    stack_noise,
)
from models.texture.evaluate import albedo_skin_ita, skin_mask, wrinkle_energy
from models.texture.infer import network_output, skin_maps, skin_request
from models.texture.model import TextureDecoder
from models.texture.template import REGIONS, region_texels, template_maps
from pipeline.core.spec import parse_avatar


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(2)
    return TextureDecoder.load()


def test_skin_model_spans_the_ita_range_monotonically():
    lo, hi = skin_optics.ita_range()
    assert lo <= -60 and hi >= 70
    itas = np.linspace(-60, 70, 27)
    mel = skin_optics.melanin_for_ita(itas)
    assert np.all(np.diff(mel) < 0)  # lighter skin, less melanin
    back = skin_optics.ita_of_lab(skin_optics.skin_lab(mel, skin_optics.BLOOD_DEFAULT))
    assert np.abs(back - itas).max() < 0.05  # the documented inverse


def test_skin_model_against_published_colours_and_regions():
    # Han et al. 2006: mean L*a*b* of Korean skin 61.75, 9.56, 17.08; forehead 5.9 L* darker than the medial arm,
    # cheek 3.7 a* redder than the medial arm
    lab = np.array([61.75, 9.56, 17.08])
    m = skin_optics.melanin_for_ita(skin_optics.ita_of_lab(lab))
    b = skin_optics.BLOOD_DEFAULT
    model = skin_optics.skin_lab(m, b)
    assert np.abs(model - lab).max() < 4.0
    forehead = skin_optics.skin_lab(m * MELANIN["sun"], b * BLOOD["forehead"])
    arm = skin_optics.skin_lab(m * MELANIN["inner_arm"], b * BLOOD["inner_arm"])
    cheek = skin_optics.skin_lab(m * MELANIN["sun"], b * BLOOD["cheeks"])
    assert -10.0 < forehead[0] - arm[0] < -2.5
    assert 1.5 < cheek[1] - arm[1] < 7.0
    # palms: much lighter than the back of the hand on dark skin, little different on light skin
    dark, light = skin_optics.melanin_for_ita(-40.0), skin_optics.melanin_for_ita(55.0)
    d_dark = skin_optics.skin_lab(dark * MELANIN["palms"], b)[0] - skin_optics.skin_lab(dark * MELANIN["sun"], b)[0]
    d_light = skin_optics.skin_lab(light * MELANIN["palms"], b)[0] - skin_optics.skin_lab(light * MELANIN["sun"], b)[0]
    assert d_dark > 12.0 and 0 < d_light < d_dark / 2


def test_template_regions_sit_where_they_belong():
    t = template_maps(1024)
    reg = t["regions"]
    inside = t["inside"] > 0.5
    area = {r: float((reg[..., i] > 0.5)[inside].mean()) for i, r in enumerate(REGIONS)}
    for r in ("lips", "eyebrows", "nails", "palms", "soles", "forehead", "cheeks", "knuckles", "areolae"):
        assert area[r] > 0, r
    assert area["face"] > area["forehead"] > area["eyebrows"]
    # lips and eyebrows never overlap
    assert not np.any((reg[..., REGIONS.index("lips")] > 0.5) & (reg[..., REGIONS.index("eyebrows")] > 0.5))
    # no beard stubble inside the mouth (its beard weight was 0.9 there)
    mouth = region_texels(1024)[..., REGIONS.index("mouth")]
    assert mouth.sum() > 100 and reg[..., REGIONS.index("beard")][mouth].max() < 0.25


def test_spec_keys_resolve_defaults_by_tone_and_age():
    base = {"name": "a", "sex": "male", "age_years": 70, "height_cm": 175, "weight_kg": 75, "skin_ita": 50}
    r = skin_request(parse_avatar(base))
    assert r.hair == default_hair(50, 70) and r.hair[2] > 0  # grey from 55
    assert r.freckles == default_freckles(50, 70)
    r = skin_request(parse_avatar({**base, "hair_color": "red", "freckles": 0.9}))
    assert r.hair == HAIR_COLORS["red"] and r.freckles == 0.9
    assert skin_request(parse_avatar({**base, "hair_color": 0.3})).hair == (0.3, 0.0, 0.0)
    assert default_freckles(-40, 20) == 0.0 < default_freckles(60, 20)


def test_generator_attributes_act_as_asked():
    young = SkinRequest(ita=55, age=25, sex=0.0, hair=HAIR_COLORS["red"], freckles=0.0, seed=3)
    freckled = SkinRequest(ita=55, age=25, sex=0.0, hair=HAIR_COLORS["red"], freckles=1.0, seed=3)
    old = SkinRequest(ita=55, age=85, sex=1.0, hair=HAIR_COLORS["white"], freckles=0.0, seed=3)
    maps = procedural_maps([young, freckled, old], stack_noise([noise_for_seed(3)] * 3))
    face = template_maps(1024)["regions"][..., REGIONS.index("face")] > 0.5
    lum = maps["albedo"].mean(1).numpy()
    assert lum[1][face].std() > 1.3 * lum[0][face].std()  # freckles darken spots of the face
    fore = template_maps(1024)["regions"][..., REGIONS.index("forehead")] > 0.5
    n = maps["normal"].numpy()
    assert wrinkle_energy(n[2], fore) > 3 * wrinkle_energy(n[0], fore)  # wrinkles deepen with age


def test_generator_puts_the_skin_median_at_the_requested_tone():
    """The generator's tone is the request's: the median ITA of the skin texels (8-bit, as the evaluation takes
    it) lands within half a degree of the request across the range (without the plain skin's offset it sat 0.1
    to 1.3 degrees below), and the seed's slow melanin noise has zero mean over the islands."""
    from models.texture.data import tone_offset

    rng = np.random.default_rng(7)
    reqs = []
    for ita in (-58.0, -35.0, -12.0, 8.0, 31.0, 52.0, 69.0):
        age = float(rng.uniform(1, 90))
        reqs.append(SkinRequest(ita=ita, age=age, sex=float(rng.integers(0, 2)), hair=default_hair(ita, age),
                                freckles=default_freckles(ita, age), seed=int(rng.integers(0, 10**6))))
    alb = procedural_maps(reqs, stack_noise([noise_for_seed(r.seed) for r in reqs]))["albedo"]
    errors = [albedo_skin_ita(np.round(a.permute(1, 2, 0).numpy() * 255).astype(np.uint8)) - r.ita
              for a, r in zip(alb, reqs, strict=True)]
    assert max(abs(e) for e in errors) < 0.5, errors
    assert all(-0.7 < tone_offset(r.ita, r.age) < 0.0 for r in reqs)
    n32 = noise_for_seed(4)["n32"]
    share = torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(template_maps(1024)["inside"])[None, None], 32)
    assert torch.allclose((n32 * share[0]).sum(dim=(1, 2)), torch.zeros(2), atol=1e-4)


def test_network_maps_deterministic_and_seeded(model):
    r = SkinRequest(ita=30, age=40, sex=1.0, hair=HAIR_COLORS["brown"], freckles=0.2, seed=11)
    a, b = skin_maps(model, [r])[0], skin_maps(model, [r])[0]
    assert a.albedo.tobytes() == b.albedo.tobytes() and a.normal.tobytes() == b.normal.tobytes()
    c = skin_maps(model, [SkinRequest(**{**r.__dict__, "seed": 12})])[0]
    assert np.abs(a.albedo.astype(int) - c.albedo.astype(int)).mean() > 0.3
    assert a.albedo.shape == (1024, 1024, 3) and a.normal.shape == (1024, 1024, 3) and a.roughness.shape == (1024,
                                                                                                             1024)
    small = skin_maps(model, [r], 256)[0]
    assert small.albedo.shape == (256, 256, 3) and small.roughness.dtype == np.uint8
    # normals are unit length and face outwards (blue up)
    n = a.normal.astype(np.float64) / 127.5 - 1.0
    assert np.abs(np.linalg.norm(n, axis=-1) - 1).max() < 0.03 and n[..., 2].min() > 0.3


@pytest.mark.parametrize("ita", [-55.0, -20.0, 15.0, 45.0, 68.0])
def test_network_skin_tone_matches_the_request(model, ita):
    r = SkinRequest(ita=ita, age=35, sex=0.0, hair=default_hair(ita, 35), freckles=default_freckles(ita, 35), seed=5)
    alb = skin_maps(model, [r])[0].albedo
    # the shipped network's tone error (median ITA of the skin texels) within the evaluation's 1-degree bar, which
    # it meets on 100 % of 500 requests (report.json: tone; here -0.21 to +0.18)
    assert abs(albedo_skin_ita(alb) - ita) < 1.0
    assert skin_mask().mean() > 0.4


def test_network_wrinkles_deepen_with_age(model):
    """The forehead's wrinkle energy (normal map, sigma-2 low-pass) of an 85-year-old is well above a
    25-year-old's for the same seed, as in the generator (there 7x)."""
    fore = template_maps(1024)["regions"][..., REGIONS.index("forehead")] > 0.5
    reqs = [SkinRequest(ita=40.0, age=age, sex=0.0, hair=default_hair(40.0, age), freckles=0.0, seed=5)
            for age in (25.0, 85.0)]
    n = network_output(model, reqs)[:, 3:5].numpy()
    assert wrinkle_energy(n[1], fore) > 3 * wrinkle_energy(n[0], fore)


def test_network_follows_its_generator(model):
    r = SkinRequest(ita=20, age=60, sex=1.0, hair=HAIR_COLORS["dark_brown"], freckles=0.3, seed=21)
    net = network_output(model, [r])[0]
    gen = procedural_maps([r], stack_noise([noise_for_seed(21)]))
    inside = torch.from_numpy(template_maps(1024)["inside"] > 0.5)
    err = (net[:3] - gen["albedo"][0]).abs().mean(0)[inside].mean()
    assert float(err) < 0.02  # sRGB, about 5 levels of 255


def test_generator_spot_thresholds_and_their_loss():
    """The generator's spot thresholds (training targets): age spots only on sun-exposed skin of old people, lower
    (more spots) for more freckles; the loss pulls a unit's threshold down from above ``SPOT_OFF`` where spots are
    drawn and leaves it where none are; a unit weighted 0 is left to the maps' loss."""
    from models.texture.data import SPOT_OFF
    from models.texture.train import threshold_loss

    reqs = [SkinRequest(ita=50, age=a, sex=0.0, hair=HAIR_COLORS["brown"], freckles=f, seed=3)
            for a, f in ((30, 0.2), (85, 0.9))]
    th = procedural_maps(reqs, stack_noise([noise_for_seed(3)] * 2))["thresholds"]
    sun = template_maps(1024)["regions"][..., REGIONS.index("sun")] > 0.9
    # age spots (the sun zone holds nails too, where none are drawn)
    assert (th[0, 2] == SPOT_OFF).all() and (th[1, 2][torch.from_numpy(sun)] < 2.0).float().mean() > 0.9
    face = torch.from_numpy(template_maps(1024)["regions"][..., REGIONS.index("face")] > 0.9)
    assert th[1, 0][face].mean() < th[0, 0][face].mean() < SPOT_OFF  # freckles
    pred = torch.full((1, 1, 4, 4), SPOT_OFF + 1.0, requires_grad=True)
    on, off = torch.full((1, 1, 8, 8), 1.6), torch.full((1, 1, 8, 8), SPOT_OFF)
    mask = torch.ones(1, 1, 8, 8)
    threshold_loss(pred, on, mask).backward()
    assert pred.grad.sum() > 0  # gradient descent lowers it
    assert threshold_loss(pred, off, mask) == 0
    two = torch.full((1, 2, 4, 4), SPOT_OFF + 1.0)
    both_on = torch.full((1, 2, 8, 8), 1.6)
    assert threshold_loss(two, both_on, mask, units=(0.0, 1.0)) == threshold_loss(pred, on, mask)  # unit 0 left out


def test_generator_spot_colours_and_their_loss():
    """Each spot kind's colour change (training target) darkens the skin, and an age spot is brown: blue drops
    at least as much as red; the colour loss counts only texels where that kind is drawn."""
    from models.texture.data import SPOT_OFF
    from models.texture.train import spot_colour_loss

    req = SkinRequest(ita=40, age=85, sex=0.0, hair=HAIR_COLORS["grey"], freckles=0.5, seed=3)
    m = procedural_maps([req], stack_noise([noise_for_seed(3)]), spot_colours=True)
    for k in range(3):
        on = m["thresholds"][0, k, ::2, ::2] < SPOT_OFF  # the colours are at 512
        colour = m["spot_colours"][0, 3 * k: 3 * k + 3][:, on].median(dim=1).values
        assert on.any() and (colour < -0.05).all(), (k, colour)
    assert colour[2] <= colour[0]  # the age spot: brown, not grey
    target = torch.full((1, 3, 4, 4), -0.1)
    thr = torch.full((1, 1, 8, 8), SPOT_OFF)
    thr[..., :4, :] = 2.0
    pred = torch.full((1, 3, 4, 4), -0.1)
    pred[..., 2:, :] = 5.0  # wrong only where no spot is drawn
    assert spot_colour_loss(pred, target, thr, torch.ones(1, 1, 8, 8)) == 0
    pred[..., 0, 0] = 0.0
    assert spot_colour_loss(pred, target, thr, torch.ones(1, 1, 8, 8)) > 0


def test_region_mean_loss_counts_each_region_alike():
    """A region's mean colour off by d costs the same for a 20-texel region as for a 400-texel one; texels
    moved within a region (same mean) cost nothing; regions under the size floor are not counted."""
    from models.texture.train import region_masks, region_mean_loss

    masks = torch.zeros(3, 32, 32)
    masks[0, :20, :20] = 1  # 400 texels
    masks[1, 25:29, 25:30] = 1  # 20 texels
    masks[2, 30, 30] = 1  # 1 texel: below the floor
    target = torch.rand(2, 6, 32, 32)
    assert region_mean_loss(target.clone(), target, masks) == 0
    shuffled = target.clone()
    shuffled[:, :, :20, :20] = shuffled[:, :, :20, :20].flip(2)
    assert region_mean_loss(shuffled, target, masks) < 1e-6
    big, small, lone = target.clone(), target.clone(), target.clone()
    big[:, 0] += 0.1 * masks[0]
    small[:, 0] += 0.1 * masks[1]
    lone[:, 0] += 0.1 * masks[2]
    assert torch.isclose(region_mean_loss(big, target, masks), region_mean_loss(small, target, masks))
    assert region_mean_loss(lone, target, masks) == 0
    full = region_masks()
    assert full.shape == (len(REGIONS), 1024, 1024) and set(full.unique().tolist()) <= {0.0, 1.0}
    assert full[REGIONS.index("eyebrows")].sum() > 100


def test_region_boost_scales_only_the_named_regions_errors():
    """A boosted region's mean-colour error counts ``factor`` times, the others' as before; an unknown region name
    is refused with the allowed names."""
    from models.texture.train import region_loss_weights, region_mean_loss

    w = region_loss_weights(("eyebrows", "mouth"), 3.0)
    assert w.shape == (len(REGIONS),) and w[REGIONS.index("eyebrows")] == 3 and w[REGIONS.index("lips")] == 1
    masks = torch.zeros(len(REGIONS), 32, 32)
    masks[REGIONS.index("eyebrows"), :10, :10] = 1
    masks[REGIONS.index("lips"), 20:30, 20:30] = 1
    target = torch.rand(1, 6, 32, 32)
    brow, lips = target.clone(), target.clone()
    brow[:, 0] += 0.1 * masks[REGIONS.index("eyebrows")]
    lips[:, 0] += 0.1 * masks[REGIONS.index("lips")]
    assert torch.isclose(region_mean_loss(brow, target, masks, weights=w), 3 * region_mean_loss(brow, target, masks))
    assert torch.isclose(region_mean_loss(lips, target, masks, weights=w), region_mean_loss(lips, target, masks))
    with pytest.raises(ValueError, match=r"unknown regions.*eyebrow"):
        region_loss_weights(("eyebrow",), 2.0)


def test_region_mean_loss_in_lab_takes_the_evaluations_means():
    """With ``lab`` the region means are of each texel's CIELAB, as the evaluation averages them (skimage's
    rgb2lab): a region of dark hairs on skin and its flat sRGB mean cost nothing in sRGB but a few L* in Lab."""
    from models.texture.evaluate import _lab
    from models.texture.train import lab_map, lab_region_loss, region_mean_loss

    rng = np.random.default_rng(2)
    x = rng.random((1, 3, 8, 8)).astype(np.float32)
    assert np.abs(lab_map(torch.from_numpy(x))[0].numpy().transpose(1, 2, 0).reshape(-1, 3)
                  - _lab(x[0].transpose(1, 2, 0).reshape(-1, 3) * 255.0)).max() < 1e-3
    masks = torch.zeros(1, 16, 16)
    masks[0, :8, :8] = 1
    hairs = torch.full((1, 3, 16, 16), 0.8)
    hairs[..., :8:2, :8] = 0.1  # every other row of the region dark
    flat = hairs.clone()
    flat[..., :8, :8] = 0.45  # the region's sRGB mean
    assert float(region_mean_loss(flat, hairs, masks)) < 1e-6
    lab_mean = lambda t: _lab(t[0, :, :8, :8].permute(1, 2, 0).reshape(-1, 3).numpy() * 255.0).mean(0)  # noqa: E731
    want = np.abs(lab_mean(flat) - lab_mean(hairs)).sum() / 30.0
    assert want > 0.05 and abs(float(region_mean_loss(flat, hairs, masks, lab=True)) - want) < 1e-3 * want + 1e-4
    # lab_region_loss converts only the named regions' texels and gives the same value
    two = torch.zeros(2, 16, 16)
    two[0], two[1, 10:, 10:] = masks[0], 1
    flat[..., 10:, 10:] = 0.3
    both = float(region_mean_loss(flat, hairs, two, lab=True))
    assert abs(float(lab_region_loss(flat, hairs, two)) - both) < 1e-5 and both > want / 2


def test_band_power_loss_is_the_evaluations_spectrum():
    """The training's per-octave log power ratio of the high-frequency luma agrees with the evaluation's
    (``octave_power`` of ``highpass_luma``) away from the window's edges, is 0 for the same maps and for maps
    that differ by a flat offset, and is log 4 everywhere for detail twice as strong."""
    from scipy.ndimage import gaussian_filter

    from models.texture.evaluate import highpass_luma, octave_power
    from models.texture.train import band_power_loss

    rng = np.random.default_rng(3)
    sharp = gaussian_filter(rng.random((256, 256)), 1.0)
    soft = gaussian_filter(sharp, 1.0)

    def maps(y: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.stack([y] * 3)[None]).float()

    a, b = maps(soft), maps(sharp)
    assert band_power_loss(b, b) == 0 and float(band_power_loss(b + 0.1, b)) < 1e-4
    assert abs(float(band_power_loss(0.5 + 2 * (b - 0.5), b)) - np.log(4)) < 1e-4
    want = np.abs(np.log(octave_power(highpass_luma(soft[..., None].repeat(3, -1) * 255))
                         / octave_power(highpass_luma(sharp[..., None].repeat(3, -1) * 255)))).mean()
    assert abs(float(band_power_loss(a, b)) - want) < 0.05 * want


def test_ita_loss_is_the_evaluations_tone():
    """The training's per-texel ITA is the evaluation's (skimage's CIELAB, ``ita_of_lab``); the tone loss is 0
    for the same skin, counts only skin texels and only windows with enough of them."""
    from models.texture.evaluate import _lab
    from models.texture.train import ita_loss, ita_map

    rng = np.random.default_rng(5)
    x = (rng.random((2, 3, 16, 16)) * 0.6 + 0.2).astype(np.float32)
    want = skin_optics.ita_of_lab(_lab(x[1].transpose(1, 2, 0) * 255.0)).reshape(16, 16)
    assert np.abs(ita_map(torch.from_numpy(x))[1].numpy() - want).max() < 1e-3
    t = torch.from_numpy(x)
    skin = torch.zeros(16, 16)
    skin[:, :8] = 1
    assert ita_loss(t, t, skin, least=10) == 0
    off_skin = t.clone()
    off_skin[..., 8:] *= 0.5
    assert ita_loss(off_skin, t, skin, least=10) == 0
    assert ita_loss(t * 0.9, t, skin, least=10) > 1.0
    assert ita_loss(t * 0.9, t, skin, least=200) == 0


def test_local_median_is_the_median_filter_where_asked():
    from scipy.ndimage import median_filter

    from models.texture.evaluate import local_median

    x = np.random.default_rng(0).random((200, 150))
    where = np.zeros_like(x, dtype=bool)
    where[5:40, 100:149] = True
    where[150:199, 0:3] = True
    got = local_median(x, where, 15, tile=32)
    assert np.array_equal(got[where], median_filter(x, size=15)[where])


def test_network_draws_the_requested_freckles(model):
    """Freckles are small dark spots (thresholds of the seed's noise): the network draws them where its generator
    does, many more when asked for many. Counted as in the evaluation (blob detection in the face's freckle zone)."""
    from models.texture.evaluate import _freckle_zone, blobs

    zone = _freckle_zone()
    reqs = [SkinRequest(ita=55, age=25, sex=0.0, hair=HAIR_COLORS["red"], freckles=f, seed=77) for f in (0.05, 0.9)]
    net = (network_output(model, reqs)[:, :3].permute(0, 2, 3, 1) * 255).round().clamp(0, 255).byte().numpy()
    gen = procedural_maps(reqs[1:], stack_noise([noise_for_seed(77)]))["albedo"][0].permute(1, 2, 0)
    few, many = (len(blobs(a, zone, 0.7, 3.0, 0.02)) for a in net)
    generator = len(blobs((gen * 255).round().byte().numpy(), zone, 0.7, 3.0, 0.02))
    assert many > 2 * few and many > 0.5 * generator, (few, many, generator)


def test_training_and_finetuning_run(tmp_path):
    from models.texture.train import TrainConfig, train
    from pipeline.formats.png import encode_png

    # a step count ends the training at the end of the round that reaches it, long before the minutes
    log = train(tmp_path / "w", TrainConfig(minutes=5, steps=3, batch=1, crops_per_batch=2, crop=32,
                                            spot_colour_weight=0.5, region_mean_weight=1.0), progress=False)
    assert log["steps"] == 4 and log["rounds"] == 2 and np.isfinite(log["final_loss"])
    assert TextureDecoder.load(tmp_path / "w") is not None
    # a folder of two textures in the documented format, fine-tuned for a few steps
    data = tmp_path / "scans"
    for k, ita in enumerate((10.0, 50.0)):
        r = SkinRequest(ita=ita, age=30, sex=0.0, hair=HAIR_COLORS["brown"], freckles=0.2, seed=k)
        m = procedural_maps([r], stack_noise([noise_for_seed(k)]))
        d = data / f"scan{k}"
        d.mkdir(parents=True)
        (d / "albedo.png").write_bytes(encode_png((m["albedo"][0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)))
        (d / "request.json").write_text(json.dumps({"age_years": 30, "sex": 0.0, "hair_color": "brown"}))
    log = train(tmp_path / "ft", TrainConfig(minutes=5, steps=3, crop=32, data=str(data)), progress=False)
    assert log["steps"] == 3 and log["textures"] == 2 and all(np.isfinite(e["loss"]) for e in log["log"])
    assert TextureDecoder.load(tmp_path / "ft") is not None


def test_training_crops_and_weights_reach_the_small_regions():
    from models.texture.train import _crop_origin, region_weights

    reg = template_maps(1024)["regions"]
    rng = np.random.default_rng(0)
    crops = np.array([_crop_origin(rng, 128) for _ in range(2000)])
    assert crops.min() >= 0 and crops.max() <= 384
    # the mouth (inside the lips, 225 texels at 1024, far from the head island's crops) was in 0.4 % of crops
    for name, share in (("eyebrows", 0.25), ("nose", 0.25), ("knuckles", 0.05), ("mouth", 0.01)):
        ys, xs = np.nonzero(reg[..., REGIONS.index(name)] > 0.5)
        cy, cx = np.median(ys) / 2, np.median(xs) / 2  # at 512 texels
        hits = ((crops[:, 0] <= cy) & (cy < crops[:, 0] + 128) & (crops[:, 1] <= cx) & (cx < crops[:, 1] + 128))
        assert hits.mean() >= share, (name, hits.mean())
    w = region_weights()[0, 0].numpy()
    brows = reg[..., REGIONS.index("eyebrows")] > 0.9
    inside = template_maps(1024)["inside"] > 0.5
    assert w.min() == 1.0 and w.max() <= 6.0 and np.median(w[inside]) < 1.5  # most skin counts once
    assert w[brows].mean() > 3.0


def test_free_hair_draws_hair_apart_from_tone_and_age():
    """With free_hair, grey hair comes at any age and blond on dark skin; without it, requests are untouched and
    no random number is drawn (the training's request sequence stays that of the default)."""
    from models.texture.data import random_request
    from models.texture.train import free_hair

    rng, ref = np.random.default_rng(5), np.random.default_rng(5)
    plain = [free_hair(rng, random_request(rng, k), 0.0) for k in range(50)]
    assert plain == [random_request(ref, k) for k in range(50)]
    rng = np.random.default_rng(6)
    reqs = [free_hair(rng, random_request(rng, k), 1.0) for k in range(400)]
    hair = np.array([r.hair for r in reqs])
    age, ita = np.array([r.age for r in reqs]), np.array([r.ita for r in reqs])
    assert ((hair[:, 2] > 0.5) & (age < 40)).mean() > 0.1  # grey on the young
    assert ((hair[:, 0] < 0.3) & (ita < -20)).mean() > 0.05  # blond on dark skin
    assert 0.1 < hair[:, 1].mean() < 0.2 and abs(np.corrcoef(hair[:, 2], age)[0, 1]) < 0.2


def test_focus_windows_cover_their_regions_and_train(tmp_path):
    """Each focus window holds one part of its region whole, inside the 512 grid; unknown names are reported as
    focus_regions; a training with focus windows runs (the smallest window is big enough for every loss)."""
    from scipy import ndimage

    from models.texture.train import TrainConfig, focus_windows, train

    texels = region_texels(1024)
    windows = focus_windows(("mouth", "areolae", "eyebrows"))
    parts = 0
    for name in ("mouth", "areolae", "eyebrows"):
        lab, n = ndimage.label(texels[..., REGIONS.index(name)])
        for i in range(1, n + 1):
            ys, xs = np.nonzero(lab == i)
            if len(ys) <= 16:
                continue
            parts += 1
            assert any(y0 * 2 <= ys.min() and ys.max() < (y0 + s) * 2 and x0 * 2 <= xs.min()
                       and xs.max() < (x0 + s) * 2 for y0, x0, s in windows), (name, i)
    assert len(windows) == parts >= 4  # the mouth's two parts, the areola, two brows
    assert all(32 <= s <= 64 and 0 <= y0 <= 512 - s and 0 <= x0 <= 512 - s for y0, x0, s in windows)
    with pytest.raises(ValueError, match="focus_regions"):
        focus_windows(("moustache",))
    log = train(tmp_path / "w", TrainConfig(minutes=5, steps=2, batch=1, crops_per_batch=2, crop=32,
                                            focus_regions=("mouth", "areolae")), progress=False)
    assert log["steps"] == 2 and np.isfinite(log["final_loss"])


def test_ema_saves_the_averaged_weights(tmp_path):
    """With ema the saved weights are the bias-corrected moving average of the steps' weights: after one step they are
    that step's weights (none of the start is kept, however short the training); after 3 steps at decay 0.9 they are
    (0.081 w1 + 0.09 w2 + 0.1 w3) / 0.271, short of the last step's weights (measured: 0.87 of their distance from the
    start; an average that kept the start, 0.9^3 of it, fails the one-step check)."""
    from models.texture.model import TextureConfig
    from models.texture.train import TrainConfig, train

    torch.manual_seed(1234)  # TrainConfig's default seed: the weights train starts from
    start = TextureDecoder(TextureConfig()).state_dict()
    saved, moved = {}, {}
    for steps in (1, 3):
        for ema in (0.0, 0.9):
            cfg = TrainConfig(minutes=5, steps=steps, batch=1, crops_per_batch=steps, crop=32, ema=ema)
            assert train(tmp_path / f"{steps}_{ema}", cfg, progress=False)["steps"] == steps
            saved[steps, ema] = TextureDecoder.load(tmp_path / f"{steps}_{ema}").state_dict()
            moved[steps, ema] = sum(float((saved[steps, ema][k] - start[k].half().float()).abs().sum()) for k in start)
    # one step: the average is that step (fp16 weights; the learning rate follows the clock by a hair)
    for k in start:
        torch.testing.assert_close(saved[1, 0.9][k], saved[1, 0.0][k], atol=2e-3, rtol=2e-3)
    assert moved[1, 0.0] > 0 and moved[3, 0.0] > 0
    assert 0.45 * moved[3, 0.0] < moved[3, 0.9] < 0.95 * moved[3, 0.0], moved


def test_hair_mix_draws_the_albedo_toward_the_hair_colour(tmp_path):
    """With hair_mix, a mix weight of 1 (and no noise gain) makes the albedo the requested hair's sRGB on every
    texel, for any hair; the untrained network starts at 0 (no mix); training keeps the option."""
    from models.common.colour import linear_to_srgb
    from models.texture.data import hair_linear_rgb
    from models.texture.model import TextureConfig
    from models.texture.train import TrainConfig, inputs_for, train

    torch.manual_seed(0)
    net = TextureDecoder(TextureConfig(hair_mix=True, hair_mix_noise=False)).eval()
    assert float(net.out.bias[-1].detach()) == 0.0 and float(net.out.weight[-1].detach().abs().max()) == 0.0
    for hair in ("red", "blond", "grey"):
        r = SkinRequest(ita=-30, age=40, sex=1.0, hair=HAIR_COLORS[hair], freckles=0.3, seed=3)
        cond, lat, noise = inputs_for([r], net.cfg.latent_dim)
        with torch.no_grad():
            plain = net(cond, lat, noise)[0, :3]
            net.out.bias[-1] = 1.0
            net.out.weight[3:6] = 0.0
            net.out.bias[3:6] = 0.0  # no noise gain
            mixed = net(cond, lat, noise)[0, :3]
            window = net(cond, lat, noise, crop=(100, 200, 32))[0, :3]
        graded = net(cond, lat, noise, crop=(100, 200, 32))[0, :3].detach()  # the mix with gradients, not in place
        with torch.no_grad():
            net.out.bias[-1] = 0.0
        target = linear_to_srgb(torch.from_numpy(hair_linear_rgb(HAIR_COLORS[hair])).float())[:, None, None]
        assert torch.allclose(mixed, target.expand_as(mixed), atol=1e-5)
        assert torch.allclose(window, target.expand_as(window), atol=1e-5) and torch.allclose(graded, window)
        assert float((plain - target).abs().mean()) > 0.05
    log = train(tmp_path / "w", TrainConfig(minutes=5, steps=2, batch=1, crops_per_batch=2, crop=32,
                                            model=TextureConfig(hair_mix=True, hair_mix_noise=False)),
                progress=False)
    assert np.isfinite(log["final_loss"]) and TextureDecoder.load(tmp_path / "w").cfg.hair_mix


def test_hair_mix_noise_mixes_at_1024_with_the_seeds_noise():
    """With hair_mix_noise the mix is made at 1024: a value of 1 gives the hair's sRGB on every texel; a gain g
    alone moves each texel toward the hair by g x the seed's 1024-texel noise there (texel-scale stubble)."""
    from models.common.colour import linear_to_srgb
    from models.texture.data import hair_linear_rgb
    from models.texture.model import TextureConfig
    from models.texture.train import inputs_for

    torch.manual_seed(0)
    net = TextureDecoder(TextureConfig(hair_mix=True, hair_mix_noise=True)).eval()
    r = SkinRequest(ita=20, age=40, sex=1.0, hair=HAIR_COLORS["red"], freckles=0.3, seed=3)
    cond, lat, noise = inputs_for([r], net.cfg.latent_dim)
    hair = linear_to_srgb(torch.from_numpy(hair_linear_rgb(HAIR_COLORS["red"])).float())[:, None, None]
    with torch.no_grad():
        plain = net(cond, lat, noise)[0, :3]
        net.out.bias[-2] = 1.0
        assert torch.allclose(net(cond, lat, noise)[0, :3], hair.expand_as(plain), atol=1e-5)
        net.out.bias[-2], net.out.bias[-1] = 0.0, 0.1
        moved = net(cond, lat, noise)[0, :3] - plain
    assert torch.allclose(moved, 0.1 * noise["n1024"][0] * (hair - plain), atol=1e-5)
    graded = net(cond, lat, noise, crop=(100, 200, 32))[0, :3]  # with gradients the mix is not made in place
    assert graded.requires_grad  # the window's edge texels upsample from beyond it: compare the inside
    assert torch.allclose(graded.detach()[:, 4:60, 4:60], (plain + moved)[:, 204:260, 404:460], atol=1e-5)
    with torch.no_grad():  # every map, made in place without gradients, as with them
        whole = net(cond, lat, noise)[0]
    window = net(cond, lat, noise, crop=(100, 200, 32))[0].detach()
    assert torch.allclose(window[:, 4:60, 4:60], whole[:, 204:260, 404:460], atol=1e-5)


def test_grain_units_and_region_colours(tmp_path):
    """The optional grain units (a soft threshold of the seed's 512 noise at 1024) and per-avatar region colours:
    the whole layout (banded, no gradients) matches the training windows; a region colour moves the albedo only
    on that region's texels; a grain unit's colour follows its noise channel at 1024; the training runs with both."""
    from models.texture.data import up
    from models.texture.model import N_BASE, N_TEMPLATE, TextureConfig, template_input
    from models.texture.train import TrainConfig, inputs_for, train

    torch.manual_seed(0)
    net = TextureDecoder(TextureConfig(grain=1, region_colour=True, hair_mix=False)).eval()
    r = SkinRequest(ita=20, age=50, sex=1.0, hair=HAIR_COLORS["black"], freckles=0.3, seed=3)
    cond, lat, noise = inputs_for([r], net.cfg.latent_dim)
    with torch.no_grad():
        for prm in net.film[-1].parameters():
            prm.normal_(0.0, 0.05)
        full = net(cond, lat, noise)
        window = net(cond, lat, noise, crop=(200, 300, 64))
        assert torch.allclose(full[..., 404:524, 604:724], window[..., 4:124, 4:124], atol=1e-5)
        lips = REGIONS.index("lips")
        net.film[-1].bias[lips] += 0.2  # the red offset of the lips' map: the first 3 x N_TEMPLATE outputs
        moved = (net(cond, lat, noise) - full)[0, 0]
        weight = up(template_input()[:, lips: lips + 1], 1024)[0, 0]  # the lips' weight, as the network has it
        assert float(weight.max()) > 0.99 and float((weight > 0.5).float().mean()) < 0.01
        assert torch.allclose(moved, 0.2 * weight, atol=1e-5)
        assert net.film[-1].bias.shape[0] > 3 * N_TEMPLATE
        g = N_BASE + 4 * net.cfg.spots + 1  # the grain unit's red colour change, everywhere
        net.out.bias[g] += 0.3
        grain = (net(cond, lat, noise) - full)[0, 0] - moved
        noise2 = {**noise, "n512": noise["n512"].clone()}
        noise2["n512"][:, 1] *= -1.0
        flipped = (net(cond, lat, noise2) - full)[0, 0] - moved
        assert float((grain - flipped).abs().mean()) > 0.02  # the unit draws its noise channel
    # without the latent the region colours are a function of the attributes alone
    net = TextureDecoder(TextureConfig(grain=1, region_colour=True, region_colour_latent=False))
    with torch.no_grad():
        for prm in net.film[-1].parameters():
            prm.normal_(0.0, 0.05)
        a, b = (net._avatar_layers(cond, z)["region_colour"] for z in (lat, -lat))
        assert torch.equal(a, b) and float(a.abs().max()) > 0.01
        mids = [net._avatar_layers(cond, z)["mids"][0][0] for z in (lat, -lat)]
        assert not torch.equal(*mids)  # the latent still reaches the layers
    log = train(tmp_path / "w", TrainConfig(minutes=5, steps=2, batch=1, crops_per_batch=2, crop=32, region_lab=True,
                                            model=TextureConfig(grain=1, region_colour=True,
                                                                region_colour_latent=False)), progress=False)
    assert np.isfinite(log["final_loss"])
    loaded = TextureDecoder.load(tmp_path / "w").cfg
    assert loaded.grain == 1 and loaded.region_colour and not loaded.region_colour_latent


def test_weights_saved_before_the_hair_mix_load_without_it(tmp_path):
    """A config.json that does not name the hair mix (weights saved before it existed) loads with it off, and the
    network gives the same maps as before saving; with the keys it loads as saved."""
    from models.texture.model import TextureConfig
    from models.texture.train import inputs_for

    torch.manual_seed(0)
    net = TextureDecoder(TextureConfig(hair_mix=False, hair_mix_noise=False)).eval()
    net.save(tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["hair_mix"] is False
    for key in ("hair_mix", "hair_mix_noise"):
        del cfg[key]
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    loaded = TextureDecoder.load(tmp_path)
    assert not loaded.cfg.hair_mix and loaded.cfg.n_out == net.cfg.n_out
    r = SkinRequest(ita=10, age=30, sex=0.0, hair=HAIR_COLORS["brown"], freckles=0.2, seed=2)
    cond, lat, noise = inputs_for([r], net.cfg.latent_dim)
    with torch.no_grad():
        assert torch.allclose(loaded(cond, lat, noise), net.half().float()(cond, lat, noise), atol=1e-5)
    TextureDecoder(TextureConfig()).save(tmp_path / "mixed")
    assert TextureDecoder.load(tmp_path / "mixed").cfg.hair_mix_noise
