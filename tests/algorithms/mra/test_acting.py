"""The fused acting forward (``acting.acting_logits``) against the networks' own forward
``MRANetworks.forward`` (the reference: what the EnvRunner computed before the fusion), on
seeded float32 batches of the worlds the EnvRunner samples."""

import numpy as np
import pytest
import torch

from envs.particle import BatchedParticleWorld, pacman_world, resource_occupation
from rllib_meta.algorithms.mra.acting import acting_logits
from rllib_meta.algorithms.mra.networks import MRANetworks, NetworkSettings


def observations(task, batch, seed=0, steps=3, **padding) -> dict[str, torch.Tensor]:
    """Float32 observations (the EnvRunner's dtype) after a few random steps."""
    world = BatchedParticleWorld(task, batch, seed=seed, **padding)
    world.reset()
    rng = np.random.default_rng(seed)
    obs = None
    for _ in range(steps):
        obs, *_ = world.step(rng.integers(5, size=(batch, task.num_agents)))
    return {key: torch.from_numpy(value) for key, value in obs.items()}


def networks(latent: str, architecture: str = "option", seed: int = 0) -> MRANetworks:
    torch.manual_seed(seed)
    return MRANetworks(NetworkSettings(latent=latent, architecture=architecture, num_games=3))


def reference_logits(nets: MRANetworks, obs, z) -> torch.Tensor:
    with torch.no_grad():
        return nets(obs, z)[0]


@pytest.mark.parametrize("latent", ["learned", "uniform", "none"])
@pytest.mark.parametrize("chunk", [7, 256])
def test_fused_logits_equal_the_networks_forward(latent, chunk):
    obs = observations(resource_occupation(12), batch=40)
    nets = networks(latent)
    z = nets.sample_latent(obs["game"], torch.Generator().manual_seed(1))
    z = None if z is None else z.detach()
    expected = reference_logits(nets, obs, z)
    fused = acting_logits(nets, obs, z, chunk=chunk)
    assert fused.shape == expected.shape == (40, 12, 5)
    torch.testing.assert_close(fused, expected, rtol=1e-5, atol=1e-5)
    # Not trivially equal: the logits differ between agents and depend on z.
    assert expected.std(dim=(0, 1)).min() > 1e-3


def test_fused_logits_respect_padding_and_agents_out_of_the_game():
    """Padded agent and landmark slots and a caught Pac-Man (masked in attention) as the
    reference masks them, including agents with nobody left to attend to."""
    world = BatchedParticleWorld(pacman_world(2, 2), 6, seed=0, max_agents=7, max_landmarks=22)
    world.reset()
    world.state.active[:3, 0] = False
    world.state.active[0, :] = False  # every agent out: empty graphs, no NaN
    obs = {key: torch.from_numpy(value) for key, value in world.observe().items()}
    nets = networks("learned")
    z = nets.sample_latent(obs["game"], torch.Generator().manual_seed(2)).detach()
    fused = acting_logits(nets, obs, z, chunk=5)
    assert torch.isfinite(fused).all()
    torch.testing.assert_close(fused, reference_logits(nets, obs, z), rtol=1e-5, atol=1e-5)


def test_a_latent_that_is_not_one_hot_and_the_conditioned_architectures_take_the_reference():
    obs = observations(resource_occupation(6), batch=4)
    nets = networks("learned")
    mixed = torch.softmax(torch.randn(4, 6, 6, generator=torch.Generator().manual_seed(3)), -1)
    torch.testing.assert_close(
        acting_logits(nets, obs, mixed), reference_logits(nets, obs, mixed), rtol=0, atol=0
    )
    for architecture in ("concat", "bilinear"):
        nets = networks("learned", architecture)
        z = nets.sample_latent(obs["game"], torch.Generator().manual_seed(4)).detach()
        torch.testing.assert_close(
            acting_logits(nets, obs, z), reference_logits(nets, obs, z), rtol=0, atol=0
        )


def test_the_fused_path_builds_no_graph_and_leaves_the_weights_alone():
    obs = observations(resource_occupation(6), batch=4)
    nets = networks("learned")
    before = {k: v.clone() for k, v in nets.state_dict().items()}
    z = nets.sample_latent(obs["game"], torch.Generator().manual_seed(5)).detach()
    logits = acting_logits(nets, obs, z)
    assert not logits.requires_grad
    for key, value in nets.state_dict().items():
        assert torch.equal(value, before[key]), key
