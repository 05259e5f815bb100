"""The latent z (paper 002, section 4.2, App. C): hard Gumbel-softmax draws from p_psi(z | m)
that are exactly one-hot yet give psi a gradient; uniform draws for uni-MRA."""

import pytest
import torch

from rllib_meta.algorithms.mra.latent import LatentPrior, gumbel_softmax_hard, uniform_latent
from rllib_meta.algorithms.mra.networks import MRANetworks, NetworkSettings


def test_gumbel_softmax_samples_are_exactly_one_hot():
    logits = torch.randn(1000, 6, generator=torch.Generator().manual_seed(0))
    z = gumbel_softmax_hard(logits.requires_grad_(), 0.5, torch.Generator().manual_seed(1))
    assert ((z == 0) | (z == 1)).all()
    assert torch.equal(z.sum(-1), torch.ones(1000))
    assert z.grad_fn is not None


def test_gumbel_softmax_samples_follow_the_categorical():
    logits = torch.tensor([1.0, 0.0, -1.0, 2.0])
    z = gumbel_softmax_hard(logits.expand(40000, 4), generator=torch.Generator().manual_seed(2))
    frequencies = z.mean(0)
    torch.testing.assert_close(frequencies, torch.softmax(logits, -1), rtol=0, atol=0.01)


def test_gumbel_softmax_is_reproducible_with_a_generator():
    logits = torch.randn(50, 6)
    first = gumbel_softmax_hard(logits, generator=torch.Generator().manual_seed(7))
    second = gumbel_softmax_hard(logits, generator=torch.Generator().manual_seed(7))
    assert torch.equal(first, second)


def test_the_straight_through_gradient_is_the_relaxed_samples_gradient():
    logits = torch.randn(8, 6, requires_grad=True)
    weights = torch.randn(8, 6)
    tau = 0.7
    z = gumbel_softmax_hard(logits, tau, torch.Generator().manual_seed(3))
    (grad_hard,) = torch.autograd.grad((z * weights).sum(), logits)
    # The same noise: exponential_ from the same generator state.
    noise = torch.empty(8, 6).exponential_(generator=torch.Generator().manual_seed(3))
    soft = torch.softmax((logits - noise.log()) / tau, -1)
    assert torch.equal(z, torch.nn.functional.one_hot(soft.argmax(-1), 6).float())
    (grad_soft,) = torch.autograd.grad((soft * weights).sum(), logits)
    torch.testing.assert_close(grad_hard, grad_soft)


def test_gumbel_softmax_gives_psi_a_gradient():
    torch.manual_seed(0)
    prior = LatentPrior(descriptor_width=3, num_latents=6)
    game = torch.tensor([[6.0, 0.0, 6.0], [12.0, 0.0, 6.0]])
    z = gumbel_softmax_hard(prior(game), generator=torch.Generator().manual_seed(0))
    heads = torch.randn(2, 6, 5)  # e.g. the option heads' weights over 5 other agents
    graph = (z.unsqueeze(-1) * heads).sum(-2)
    (graph * torch.randn(2, 5)).sum().backward()
    for param in prior.parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0


def test_uniform_latents_are_one_hot_uniform_and_have_no_gradient():
    z = uniform_latent((20000,), 5, torch.Generator().manual_seed(0))
    assert torch.equal(z.sum(-1), torch.ones(20000)) and not z.requires_grad
    torch.testing.assert_close(z.mean(0), torch.full((5,), 0.2), rtol=0, atol=0.01)


@pytest.mark.parametrize("latent", ["learned", "uniform", "none"])
def test_networks_draw_z_by_their_latent_mode(latent):
    nets = MRANetworks(NetworkSettings(num_latents=6, latent=latent, hidden_size=8, key_size=4))
    game = torch.tensor([6.0, 0.0, 6.0]).expand(4, 3, 3)
    z = nets.sample_latent(game, torch.Generator().manual_seed(0))
    if latent == "none":
        assert z is None
        return
    assert z.shape == (4, 3, 6) and torch.equal(z.sum(-1), torch.ones(4, 3))
    assert (z.grad_fn is not None) == (latent == "learned")
