"""The in-silico IVUS cohort: determinism, anatomy, mask validity, image physics."""
import json

import numpy as np
import pytest
from scipy import ndimage

from latentmine.fea.validate import mask_problems
from latentmine.labels import Label
from latentmine.phantoms import PhantomParams, generate
from latentmine.phantoms.imaging import rayleigh_speckle


@pytest.fixture(scope="module")
def cohort128():
    return generate(96, size=128, seed=11)


@pytest.fixture(scope="module")
def cohort64():
    return generate(160, size=64, seed=12, lipid_probability=1.0, superficial_calcium_probability=0.6)


def test_same_seed_same_cohort_and_prefix_stable():
    a = generate(40, size=64, seed=3)
    b = generate(40, size=64, seed=3)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.masks, b.masks)
    assert a.anatomy == b.anatomy
    short = generate(5, size=64, seed=3)
    assert np.array_equal(short.images, a.images[:5]) and np.array_equal(short.masks, a.masks[:5])
    other = generate(5, size=64, seed=4)
    assert not np.array_equal(other.masks, short.masks)


def test_cohort_contract(cohort128):
    c = cohort128
    assert c.images.shape == c.masks.shape == (96, 128, 128)
    assert c.images.dtype == np.float32 and c.masks.dtype == np.uint8
    assert 0.0 <= c.images.min() and c.images.max() <= 1.0
    assert c.pixel_size_mm == pytest.approx(PhantomParams().fov_mm / 128)
    assert len(set(c.ids)) == len(c) == 96 and c.seed == 11
    json.dumps(c.params), json.dumps(c.anatomy)  # JSON-able records
    assert set(np.unique(c.masks)) == {int(label) for label in Label}


def test_anatomy_within_documented_ranges(cohort128):
    params, pix = PhantomParams(), cohort128.pixel_size_mm
    burden = np.array([a["plaque_burden"] for a in cohort128.anatomy])
    lumen_d = 2 * np.sqrt(np.array([a["lumen_area_mm2"] for a in cohort128.anatomy]) / np.pi)
    eem_d = 2 * np.sqrt(np.array([a["eem_area_mm2"] for a in cohort128.anatomy]) / np.pi)
    # Pixelation moves areas by about one pixel ring, hence the tolerances.
    assert params.plaque_burden[0] - 0.02 <= burden.min() and burden.max() <= params.plaque_burden[1] + 0.02
    assert burden.min() < 0.35 and burden.max() > 0.7  # the range is used, not one value
    assert params.lumen_diameter_mm[0] - 2 * pix <= lumen_d.min() and lumen_d.max() <= params.lumen_diameter_mm[1] + 2 * pix
    assert params.eem_diameter_mm[0] - 0.15 <= eem_d.min() and eem_d.max() <= params.eem_diameter_mm[1] + 0.15
    caps = np.array([a["min_cap_um"] for a in cohort128.anatomy if a["min_cap_um"] is not None])
    assert caps.size > 10
    assert caps.min() >= 2 * pix * 1000 - 1e-6 and caps.max() <= params.cap_thickness_um[1] + pix * 1000


def test_user_parameters_steer_the_anatomy():
    c = generate(32, size=64, seed=2, plaque_burden=(0.6, 0.65), lipid_probability=0.0,
                 superficial_calcium_probability=0.0, deep_calcium_probability=0.0, spot_probability=0.0)
    burden = np.array([a["plaque_burden"] for a in c.anatomy])
    assert 0.55 < burden.min() and burden.max() < 0.7
    assert not np.isin(c.masks, [Label.LIPID, Label.CALCIUM]).any()


def test_thin_caps_reach_tcfa_when_pixels_allow():
    # At 256 px (31 um pixels) a cap of 2 pixels is under the 65 um TCFA limit.
    c = generate(12, size=256, seed=5, lipid_probability=1.0, cap_thickness_um=(50.0, 60.0),
                 plaque_burden=(0.6, 0.8), guidewire=False)
    caps = [a["min_cap_um"] for a in c.anatomy if a["min_cap_um"] is not None]
    assert caps and min(caps) < 65.0


@pytest.mark.parametrize("name", ["cohort64", "cohort128"])
def test_every_mask_is_a_valid_labeller_input(name, request):
    c = request.getfixturevalue(name)
    problems = {i: p for i, m in enumerate(c.masks) if (p := mask_problems(m))}
    assert problems == {}
    for mask in c.masks:
        wall = mask != Label.OUTSIDE
        # At least 3 px from any lumen pixel to any outside pixel.
        assert ndimage.distance_transform_edt(wall)[mask == Label.LUMEN].min() >= 3
        # Continuous fibrous ring: no lipid or calcium within 2 px (Chebyshev) of the lumen.
        near = ndimage.maximum_filter(mask == Label.LUMEN, size=5)
        assert not (near & (mask > Label.FIBROUS)).any()
        # The vessel stays inside the frame with a margin.
        assert not wall[:3].any() and not wall[-3:].any() and not wall[:, :3].any() and not wall[:, -3:].any()


def test_labelled_stress_is_in_the_literature_range():
    # Peri-luminal peaks of coronary plaques run ~50-300 kPa (Costopoulos et al.,
    # JACC Cardiovasc Imaging 2017: 104 [75-142] kPa non-ruptured, 133 [90-191] ruptured).
    from latentmine.fea import solve

    c = generate(16, size=64, seed=0)
    pss = solve(c.masks, pixel_size_mm=c.pixel_size_mm).pss
    assert 50 <= np.median(pss) <= 300
    assert ((pss >= 50) & (pss <= 300)).mean() >= 0.7 and 20 <= pss.min() and pss.max() <= 400


def _polar_about_centre(size):
    y, x = np.mgrid[0:size, 0:size] - (size - 1) / 2
    return np.hypot(x, y), np.degrees(np.arctan2(y, x)) % 360


def test_echogenicity_follows_tissue():
    c = generate(32, size=128, seed=6, lipid_probability=1.0, superficial_calcium_probability=1.0,
                 plaque_burden=(0.6, 0.8))
    calcium, lipid, fibrous = [], [], []
    for image, mask in zip(c.images, c.masks):
        if (mask == Label.LIPID).sum() > 5 and (mask == Label.CALCIUM).sum() > 5:
            calcium.append(image[mask == Label.CALCIUM].mean())
            lipid.append(image[mask == Label.LIPID].mean())
            fibrous.append(image[mask == Label.FIBROUS].mean())
    assert len(calcium) >= 8
    calcium, lipid, fibrous = map(np.array, (calcium, lipid, fibrous))
    assert (calcium > lipid).mean() >= 0.9 and calcium.mean() > lipid.mean() + 0.15
    assert lipid.mean() < fibrous.mean()


def test_calcium_casts_an_acoustic_shadow():
    c = generate(40, size=128, seed=8, superficial_calcium_probability=1.0, calcium_arc_deg=(60.0, 120.0),
                 calcium_thickness_mm=(0.3, 0.5), deep_calcium_probability=0.0, spot_probability=0.0,
                 lipid_probability=0.0, plaque_burden=(0.6, 0.8))
    _, angle = _polar_about_centre(128)
    bins = (angle // 5).astype(int)
    behind, elsewhere = [], []
    for image, mask, record in zip(c.images, c.masks, c.anatomy):
        # The adventitia: outside pixels within 0.6 mm of the wall, the same
        # anatomical depth all around.
        depth = ndimage.distance_transform_edt(mask == Label.OUTSIDE) * c.pixel_size_mm
        band = (mask == Label.OUTSIDE) & (depth < 0.6)
        shadowed = np.zeros(72, bool)
        shadowed[np.unique(bins[mask == Label.CALCIUM])] = True
        wire = np.abs((np.arange(72) * 5 + 2.5 - record["guidewire_angle_deg"] + 180) % 360 - 180) < 40
        clear = ~ndimage.binary_dilation(shadowed, iterations=2) & ~wire
        if shadowed.sum() >= 6 and clear.sum() >= 12:
            behind.append(image[band & shadowed[bins]].mean())
            elsewhere.append(image[band & clear[bins]].mean())
    behind, elsewhere = np.array(behind), np.array(elsewhere)
    assert len(behind) >= 20
    assert (behind < elsewhere).all() and (elsewhere - behind).mean() > 0.2


def test_speckle_envelope_is_rayleigh():
    rng = np.random.default_rng(0)
    for axial, lateral in [(1, 1), (3, 2)]:
        envelope = rayleigh_speckle(rng, (4, 256, 512), axial, lateral)
        assert np.mean(envelope ** 2) == pytest.approx(1.0, rel=0.03)
        # Rayleigh: std / mean = sqrt(4 / pi - 1).
        assert envelope.std() / envelope.mean() == pytest.approx(np.sqrt(4 / np.pi - 1), rel=0.03)


@pytest.mark.parametrize("kwargs, message", [
    ({"size": 32}, "at least 64"),
    ({"n": -1}, "non-negative"),
    ({"plaque_burden": (0.8, 0.2)}, "low <= high"),
    ({"plaque_burden": (0.2, 1.5)}, "within \\[0, 1\\]"),
    ({"lipid_probability": 2.0}, "lipid_probability"),
    ({"no_such_thing": 1}, "unknown phantom parameter"),
    ({"echogenicity": {"BONE": 1.0}}, "unknown regions"),
    ({"fov_mm": -1.0}, "fov_mm"),
])
def test_bad_parameters_are_named(kwargs, message):
    kwargs = {"n": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        generate(kwargs.pop("n"), **kwargs)
