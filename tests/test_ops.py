"""latentmine.ops.latent_step: the native kernels against the torch reference."""
import math

import pytest
import torch

from latentmine import backend
from latentmine.ops import latent_step, latent_step_reference

SHAPES = [(1, 1), (3, 7), (5, 8), (17, 129), (64, 128), (2, 1000), (0, 16)]


def _pair(shape, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=gen), torch.randn(shape, generator=gen) * 3.0


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("max_norm", [None, 0.5, 4.0])
def test_matches_the_torch_reference(shape, max_norm):
    z, grad = _pair(shape)
    got = latent_step(z, grad, 0.7, max_norm=max_norm)
    want = latent_step_reference(z, grad, 0.7, max_norm=max_norm)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(9, 31), (16, 128)])
def test_step_has_the_requested_length(shape):
    z, grad = _pair(shape, seed=3)
    for step in (0.25, -1.5):
        moved = latent_step(z, grad, step) - z
        torch.testing.assert_close(moved.norm(dim=1), torch.full((shape[0],), abs(step)), rtol=1e-5, atol=1e-6)
        # along +grad for a positive step, -grad for a negative one
        cosine = torch.nn.functional.cosine_similarity(moved, grad, dim=1)
        torch.testing.assert_close(cosine, torch.full_like(cosine, math.copysign(1.0, step)))


def test_zero_gradient_rows_stay_put():
    z, grad = _pair((6, 13))
    grad[[1, 4]] = 0.0
    out = latent_step(z, grad, 2.0)
    assert torch.equal(out[[1, 4]], z[[1, 4]])
    assert not torch.equal(out[0], z[0])


def test_projection_keeps_rows_in_the_ball_and_leaves_inner_rows_alone():
    z, grad = _pair((40, 33), seed=5)
    z[:20] *= 0.01  # these stay well inside the ball after a 0.1 step
    out = latent_step(z, grad, 0.1, max_norm=1.0)
    assert (out.norm(dim=1) <= 1.0 + 1e-6).all()
    torch.testing.assert_close(out[:20], latent_step(z[:20], grad[:20], 0.1))
    torch.testing.assert_close(out[20:].norm(dim=1), torch.ones(20))
    assert torch.equal(latent_step(z, grad, 0.1, max_norm=0.0), torch.zeros_like(z))


@pytest.mark.parametrize("shape", [(7, 10), (128, 64)])
def test_seeded_noise_is_reproducible_and_matches_the_reference(shape):
    z, grad = _pair(shape)

    def run(fn, seed):
        return fn(z, grad, 0.3, noise_std=0.2, max_norm=5.0, generator=torch.Generator().manual_seed(seed))

    first, again, other = run(latent_step, 11), run(latent_step, 11), run(latent_step, 12)
    assert torch.equal(first, again)
    assert not torch.allclose(first, other)
    torch.testing.assert_close(first, run(latent_step_reference, 11), rtol=1e-5, atol=1e-6)


def test_noise_has_the_requested_spread():
    z, grad = torch.zeros(2000, 50), torch.zeros(2000, 50)
    out = latent_step(z, grad, 1.0, noise_std=0.3, generator=torch.Generator().manual_seed(0))
    assert abs(out.mean().item()) < 0.01
    assert out.std().item() == pytest.approx(0.3, rel=0.02)


def test_non_contiguous_inputs_and_autograd_inputs():
    z, grad = _pair((12, 9))
    zt = z.t().contiguous().t().requires_grad_()  # column-major view with history
    out = latent_step(zt, grad, 0.5)
    assert out.grad_fn is None and not out.requires_grad
    torch.testing.assert_close(out, latent_step_reference(z, grad, 0.5))


@pytest.mark.parametrize("kwargs, message", [
    (dict(z=torch.zeros(4), grad=torch.zeros(4)), "must be 2-D"),
    (dict(z=torch.zeros(2, 3, dtype=torch.float64), grad=torch.zeros(2, 3, dtype=torch.float64)), "float32"),
    (dict(z=torch.zeros(2, 3), grad=torch.zeros(2, 4)), "differ in shape"),
    (dict(z=[[0.0]], grad=torch.zeros(1, 1)), "torch.Tensor"),
    (dict(step_size=float("nan")), "step_size"),
    (dict(step_size=float("inf")), "step_size"),
    (dict(step_size="big"), "step_size"),
    (dict(noise_std=-0.1), "noise_std"),
    (dict(max_norm=-1.0), "max_norm"),
    (dict(max_norm=float("inf")), "max_norm"),
])
def test_bad_inputs_are_named(kwargs, message):
    call = dict(z=torch.zeros(2, 3), grad=torch.ones(2, 3), step_size=0.1)
    call.update(kwargs)
    z, grad, step = call.pop("z"), call.pop("grad"), call.pop("step_size")
    with pytest.raises(ValueError, match=message):
        latent_step(z, grad, step, **call)


def _cuda_ready():
    return backend.cuda_available() and torch.cuda.is_available()


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda_ready(), reason="needs a CUDA device, latentmine._cuda and a CUDA build of torch")
@pytest.mark.parametrize("shape", SHAPES)
def test_cuda_kernel_matches_the_reference(shape):
    z, grad = (t.cuda() for t in _pair(shape))
    grad[0:1] = 0.0
    kwargs = dict(max_norm=2.0, noise_std=0.1)
    got = latent_step(z, grad, 0.4, generator=torch.Generator("cuda").manual_seed(2), **kwargs)
    want = latent_step_reference(z, grad, 0.4, generator=torch.Generator("cuda").manual_seed(2), **kwargs)
    assert got.is_cuda
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
