"""The VAE generator, the stress U-Net F and its losses."""
import numpy as np
import pytest
import torch
from loop_toys import pool_and_test, trained_vae

from latentmine import models
from latentmine.fea.examples import ring_mask
from latentmine.labels import NUM_LABELS, Label
from latentmine.models import StressUNet, WeightedMSE, loss_weighting_band

torch.set_num_threads(1)


def test_vae_follows_the_generator_protocol_and_shapes():
    vae = models.VAE(32, latent_dim=6)
    assert isinstance(vae, models.Generator)
    images, masks = torch.rand(3, 32, 32), torch.randint(0, NUM_LABELS, (3, 32, 32))
    with torch.no_grad():
        mu, logvar = vae.encode(images, masks)
        image, logits = vae.decode(mu)
    assert mu.shape == logvar.shape == (3, 6)
    assert image.shape == (3, 32, 32) and logits.shape == (3, NUM_LABELS, 32, 32)
    assert 0 <= float(image.min()) and float(image.max()) <= 1


@pytest.mark.parametrize("kwargs, message", [(dict(image_size=48), "power of two"), (dict(latent_dim=0), "latent_dim"),
                                             (dict(beta=-1), "beta")])
def test_vae_refuses_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        models.VAE(**{"image_size": 32, **kwargs})


def test_trained_vae_reconstructs_ring_masks_and_round_trips_its_checkpoint(tmp_path):
    pool, _ = pool_and_test()
    vae = trained_vae()
    mu, _ = vae.encode(torch.from_numpy(pool.images[:8]), torch.from_numpy(pool.masks[:8].astype(np.int64)))
    _, masks = models.decode_pairs(vae, mu)
    accuracy = (masks.numpy() == pool.masks[:8]).mean()
    assert accuracy > 0.9  # an untrained decoder gets about 1/NUM_LABELS
    models.save_vae(tmp_path / "vae.pt", vae)
    again = models.load_vae(tmp_path / "vae.pt")
    torch.testing.assert_close(again.decode(mu)[1], vae.decode(mu)[1])


def test_train_vae_writes_checkpoint_history_and_figures(tmp_path):
    pool, _ = pool_and_test(n_pool=8)
    models.train_vae(pool.images, pool.masks, latent_dim=4, width=4, epochs=2, batch_size=4, out_dir=tmp_path,
                     progress=False)
    for name in ("vae.pt", "history.json", "reconstructions.png", "samples.png"):
        assert (tmp_path / name).stat().st_size > 0, name


@pytest.mark.parametrize("mode, channels", [("image", 1), ("mask", NUM_LABELS), ("both", 1 + NUM_LABELS)])
def test_target_network_input_modes(mode, channels):
    net = StressUNet(mode, width=4, levels=2)
    assert net.down[0][0].in_channels == channels
    pool, _ = pool_and_test(n_pool=2)
    out = models.predict(net, pool.images, pool.masks)
    assert out.shape == (2, 32, 32) and np.isfinite(out).all()


def test_target_network_rows_are_independent_of_the_batch():
    net = StressUNet("image", width=4, levels=3).eval()
    x = torch.rand(4, 1, 32, 32)
    torch.testing.assert_close(net(x)[1:2], net(x[1:2]))


def test_loss_weighting_band_on_a_ring():
    mask = torch.from_numpy(ring_mask(32, 6, 12).astype(np.int64))[None]
    band = loss_weighting_band(mask, 2)[0].numpy()
    assert band.any() and (mask[0].numpy()[band] == Label.FIBROUS).all()
    r = np.hypot(*(np.mgrid[0:32, 0:32] + 0.5 - 16))
    assert r[band].max() < 6 + 2 * np.sqrt(2) + 0.5  # within 2 pixels (chessboard) of the lumen


def test_weighted_mse_reduces_to_mse_and_weights_the_band():
    mask = torch.from_numpy(ring_mask(32, 6, 12).astype(np.int64))[None]
    pred, target = torch.zeros(1, 32, 32), torch.zeros(1, 32, 32)
    band = loss_weighting_band(mask)[0]
    target[0][band] = 1.0
    plain = WeightedMSE(0.0)(pred, target, mask)
    assert float(plain) == pytest.approx(float(band.float().mean()))
    weighted = WeightedMSE(4.0)(pred, target, mask)
    assert float(weighted) > 2 * float(plain)  # the error sits in the band, which weighs 5x
    target[0][~band] = 1.0
    target[0][band] = 0.0  # error outside the band only: weighted below plain
    assert float(WeightedMSE(4.0)(pred, target, mask)) < float(WeightedMSE(0.0)(pred, target, mask))
    with pytest.raises(ValueError, match="peak_weight"):
        WeightedMSE(-1)
