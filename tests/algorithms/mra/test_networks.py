"""MRA's networks (paper 002, Fig. 1, App. E) on the particle worlds' entity observations:
masks, permutations of the other agents, head selection by z, batching, and which
parameter sets each loss reaches."""

import numpy as np
import pytest
import torch

from envs.particle import BatchedParticleWorld, pacman_world, resource_occupation
from rllib_meta.algorithms.mra import losses
from rllib_meta.algorithms.mra.attention import (
    attend,
    gather_others,
    masked_softmax,
    other_agent_index,
    small_matmul,
)
from rllib_meta.algorithms.mra.networks import MRANetworks, NetworkSettings, TokenAttention

ARCHITECTURES = ["option", "concat", "bilinear"]
NUM_LATENTS = 4


def observations(task, batch=2, seed=0, steps=3, **padding) -> dict[str, torch.Tensor]:
    """Float64 observations of ``batch`` games after a few random steps (nonzero velocities)."""
    world = BatchedParticleWorld(task, batch, seed=seed, dtype=np.float64, **padding)
    world.reset()
    rng = np.random.default_rng(seed)
    obs = None
    for _ in range(steps):
        obs, *_ = world.step(rng.integers(5, size=(batch, task.num_agents)))
    return {key: torch.as_tensor(value) for key, value in obs.items()}


def networks(architecture="option", latent="learned", seed=0) -> MRANetworks:
    torch.manual_seed(seed)
    settings = NetworkSettings(
        num_latents=NUM_LATENTS,
        latent=latent,
        architecture=architecture,
        hidden_size=16,
        key_size=8,
        num_games=3,
    )
    return MRANetworks(settings).double()


def latents(shape, seed=1) -> torch.Tensor:
    index = torch.randint(NUM_LATENTS, shape, generator=torch.Generator().manual_seed(seed))
    return torch.nn.functional.one_hot(index, NUM_LATENTS).double()


def outputs(nets: MRANetworks, obs, z, others_actions):
    logits, graph = nets(obs, z)
    q_values = nets.critic(obs, others_actions, graph)
    classes = nets.classifier(obs, graph)
    return logits, graph, q_values, classes


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_padding_agents_and_landmarks_change_nothing(architecture):
    task = resource_occupation(4, num_resources=4)
    small = observations(task)  # K = 3 other agents, L = 4 landmarks
    big = observations(task, max_agents=7, max_landmarks=6)  # K = 6, L = 6: padding
    # Same games (same seed), padded with garbage that the masks must hide.
    junk = torch.Generator().manual_seed(5)
    big["others"][..., 3:, :] = 10 * torch.randn(big["others"][..., 3:, :].shape, generator=junk)
    big["landmarks"][..., 4:, :] = 10 * torch.randn(
        big["landmarks"][..., 4:, :].shape, generator=junk
    )
    assert torch.equal(big["others"][..., :3, :], small["others"])
    nets, z = networks(architecture), latents((2, 4))
    actions = torch.randint(5, (2, 4), generator=junk)
    small_out = outputs(nets, small, z, gather_others(actions, 3))
    big_actions = gather_others(actions, 6)
    big_actions[..., 3:] = torch.randint(5, big_actions[..., 3:].shape, generator=junk)
    big_out = outputs(nets, big, z, big_actions)

    small_logits, small_graph, small_q, small_classes = small_out
    big_logits, big_graph, big_q, big_classes = big_out
    assert torch.equal(big_graph[..., 3:], torch.zeros_like(big_graph[..., 3:]))
    torch.testing.assert_close(big_graph[..., :3], small_graph, rtol=0, atol=1e-12)
    torch.testing.assert_close(big_logits, small_logits, rtol=0, atol=1e-12)
    torch.testing.assert_close(big_q, small_q, rtol=0, atol=1e-12)
    torch.testing.assert_close(big_classes, small_classes, rtol=0, atol=1e-12)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_permuting_the_other_agents_permutes_g_and_keeps_the_action_distribution(architecture):
    obs = observations(resource_occupation(5), max_agents=7)  # K = 6 slots, 4 real
    nets, z = networks(architecture), latents((2, 5))
    actions = gather_others(torch.randint(5, (2, 5)), 6)
    logits, graph, q_values, classes = outputs(nets, obs, z, actions)

    perm = torch.tensor([5, 2, 0, 4, 1, 3])  # mixes real and padding slots
    permuted = dict(obs)
    permuted["others"] = obs["others"][..., perm, :]
    permuted["others_mask"] = obs["others_mask"][..., perm]
    p_logits, p_graph, p_q, p_classes = outputs(nets, permuted, z, actions[..., perm])

    torch.testing.assert_close(p_graph, graph[..., perm], rtol=0, atol=1e-12)
    torch.testing.assert_close(
        torch.softmax(p_logits, -1), torch.softmax(logits, -1), rtol=0, atol=1e-12
    )
    torch.testing.assert_close(p_q, q_values, rtol=0, atol=1e-12)
    torch.testing.assert_close(p_classes, classes, rtol=0, atol=1e-12)


def test_z_selects_exactly_one_head():
    obs = observations(resource_occupation(6))
    nets = networks("option")
    heads = nets.relation.head_weights(obs)  # (B, N, |Z|, K)
    assert heads.shape == (2, 6, NUM_LATENTS, 5)
    torch.testing.assert_close(heads.sum(-1), torch.ones(2, 6, NUM_LATENTS, dtype=torch.float64))
    for h in range(NUM_LATENTS):
        z = torch.nn.functional.one_hot(torch.full((2, 6), h), NUM_LATENTS).double()
        graph = nets.relation(obs, z)
        assert torch.equal(graph, heads[..., h, :])  # bit for bit
    # The heads differ, so z matters; mixed z per agent picks per agent.
    assert not torch.allclose(heads[..., 0, :], heads[..., 1, :])
    z = latents((2, 6))
    expected = heads.gather(-2, z.argmax(-1)[..., None, None].expand(2, 6, 1, 5)).squeeze(-2)
    assert torch.equal(nets.relation(obs, z), expected)
    # latent: none is plain attention, the heads' average.
    torch.testing.assert_close(nets.relation(obs, None), heads.mean(-2))


@pytest.mark.parametrize("architecture", ["concat", "bilinear"])
def test_conditioned_variants_give_graphs_that_depend_on_z(architecture):
    obs = observations(resource_occupation(6))
    nets = networks(architecture)
    graphs = [
        nets.relation(obs, torch.nn.functional.one_hot(torch.full((2, 6), h), NUM_LATENTS).double())
        for h in range(NUM_LATENTS)
    ]
    for graph in graphs:
        torch.testing.assert_close(graph.sum(-1), torch.ones(2, 6, dtype=torch.float64))
    assert not torch.allclose(graphs[0], graphs[1])
    with pytest.raises(ValueError, match="needs a latent"):
        nets.relation(obs, None)


def test_resampled_latents_broadcast_over_leading_axes():
    obs = observations(resource_occupation(6))
    for architecture in ARCHITECTURES:
        nets = networks(architecture)
        z = torch.stack([latents((2, 6), seed=s) for s in range(5)])  # (n, B, N, |Z|)
        graphs = nets.relation(obs, z)
        assert graphs.shape == (5, 2, 6, 5)
        for j in range(5):
            torch.testing.assert_close(graphs[j], nets.relation(obs, z[j]), rtol=0, atol=1e-12)
        features = nets.target_policy.features(obs)
        logits = nets.target_policy.read(features, graphs)
        torch.testing.assert_close(logits[3], nets.target_policy(obs, graphs[3]))


def test_the_others_slots_follow_the_envs_agent_order():
    world = BatchedParticleWorld(pacman_world(3, 2), 2, seed=3, max_agents=8)
    obs = world.reset()
    index = other_agent_index(5, 7).numpy()
    for i in range(5):
        for k in range(4):
            j = index[i, k]
            np.testing.assert_allclose(
                obs["others"][:, i, k, :2], obs["self"][:, j, :2] - obs["self"][:, i, :2], 1e-6
            )
            np.testing.assert_array_equal(obs["others"][:, i, k, 2:], obs["self"][:, j, 2:])
    assert obs["others_mask"][:, :, 4:].sum() == 0
    gathered = gather_others(torch.as_tensor(obs["self"]), 7)
    assert gathered.shape == (2, 5, 7, 8)
    for i in range(5):
        assert torch.equal(gathered[:, i, :4], torch.as_tensor(obs["self"][:, index[i, :4]]))
    with pytest.raises(ValueError, match="num_slots"):
        other_agent_index(5, 3)


def test_batched_forward_equals_one_agent_at_a_time():
    obs = observations(pacman_world(3, 2), batch=3, max_agents=7, max_landmarks=22)
    nets, z = networks(), latents((3, 5))
    actions = gather_others(torch.randint(5, (3, 5)), 6)
    batched = outputs(nets, obs, z, actions)
    for b in range(3):
        for i in range(5):
            one = {key: value[b : b + 1, i : i + 1] for key, value in obs.items()}
            single = outputs(nets, one, z[b : b + 1, i : i + 1], actions[b : b + 1, i : i + 1])
            for full, part in zip(batched, single, strict=True):
                torch.testing.assert_close(full[b, i], part[0, 0], rtol=0, atol=1e-12)


def test_agents_out_of_the_game_are_not_attended_to():
    world = BatchedParticleWorld(pacman_world(2, 2), 1, seed=0, dtype=np.float64)
    world.reset()
    world.state.active[0, 0] = False  # pacman_0 is caught
    obs = {key: torch.as_tensor(value) for key, value in world.observe().items()}
    graph = networks().relation(obs, latents((1, 4)))
    # Every other agent holds pacman_0 in slot 0.
    assert torch.equal(graph[0, 1:, 0], torch.zeros(3, dtype=torch.float64))
    torch.testing.assert_close(graph.sum(-1)[0, 1:], torch.ones(3, dtype=torch.float64))


def test_an_agent_with_no_one_to_attend_to_gets_a_zero_graph_and_no_nan():
    obs = observations(resource_occupation(3))
    obs["others_mask"] = torch.zeros_like(obs["others_mask"])
    nets = networks()
    z = nets.sample_latent(obs["game"], torch.Generator().manual_seed(0))
    logits, graph = nets(obs, z)
    assert torch.equal(graph, torch.zeros_like(graph))
    logits.sum().backward()
    for param in nets.parameters():
        assert param.grad is None or torch.isfinite(param.grad).all()
    logits = torch.randn(3, 4, requires_grad=True)
    weights = masked_softmax(logits, torch.zeros(3, 4, dtype=torch.bool))
    weights.sum().backward()
    assert torch.equal(weights, torch.zeros(3, 4)) and torch.equal(logits.grad, torch.zeros(3, 4))


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"num_latents": 0}, "num_latents"),
        ({"hidden_size": 2.5}, "hidden_size"),
        ({"latent": "gaussian"}, "latent"),
        ({"architecture": "film"}, "architecture"),
        ({"latent": "none", "architecture": "concat"}, "architecture 'concat'"),
        ({"gumbel_temperature": 0.0}, "gumbel_temperature"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(settings, key):
    with pytest.raises(ValueError, match=key):
        NetworkSettings(**settings)


def test_parameter_groups_are_disjoint_and_leave_out_only_the_targets():
    nets = networks()
    groups = nets.parameter_groups()
    ids = [id(p) for group in groups.values() for p in group]
    assert len(ids) == len(set(ids))
    targets = {id(p) for p in [*nets.target_policy.parameters(), *nets.target_critic.parameters()]}
    assert set(ids) | targets == {id(p) for p in nets.parameters()}
    assert not any(p.requires_grad for p in nets.target_policy.parameters())
    assert networks(latent="uniform").parameter_groups()["prior"] == []


def grad_groups(nets: MRANetworks, loss: torch.Tensor) -> set[str]:
    """The parameter sets that ``loss`` gives a nonzero gradient."""
    nets.zero_grad(set_to_none=True)
    loss.backward()
    return {
        name
        for name, params in nets.parameter_groups().items()
        if any(p.grad is not None and p.grad.abs().sum() > 0 for p in params)
    }


def test_each_loss_reaches_the_parameter_sets_of_algorithm_4():
    """The wiring a Learner uses on one MG's batch (Algorithm 4): critic and policy steps with
    the stored graph held fixed, Eq. 11 for phi through the target policy, Eq. 13 for psi and xi.
    """
    obs = observations(resource_occupation(4), batch=3)
    next_obs = observations(resource_occupation(4), batch=3, steps=4)
    nets = networks()
    gen = torch.Generator().manual_seed(0)
    z = nets.sample_latent(obs["game"], gen)
    graph = nets.relation(obs, z)
    actions = torch.randint(5, (3, 4), generator=gen)
    alpha, mask = 0.01, torch.ones(3, 4, dtype=torch.bool)

    with torch.no_grad():
        next_graph = nets.relation(next_obs, z)
        next_logits = nets.target_policy(next_obs, next_graph)
        next_actions = torch.distributions.Categorical(logits=next_logits).sample()
        next_q = nets.target_critic(next_obs, gather_others(next_actions, 3), next_graph)
        targets = losses.soft_q_target(
            torch.randn(3, 4), torch.zeros(3, 4), next_logits, next_q, 0.95, alpha
        )
    stored = graph.detach()
    q_values = nets.critic(obs, gather_others(actions, 3), stored)
    critic = losses.critic_loss(q_values, actions, targets, mask)
    assert grad_groups(nets, critic) == {"critic"}

    logits = nets.policy(obs, stored)
    own = torch.distributions.Categorical(logits=logits.detach()).sample()
    q_values = nets.critic(obs, gather_others(own, 3), stored)
    assert grad_groups(nets, losses.policy_loss(logits, q_values, alpha, mask)) == {"policy"}

    graph = nets.relation(obs, z.detach())
    resampled = torch.stack([nets.sample_latent(obs["game"], gen).detach() for _ in range(5)])
    features = nets.target_policy.features(obs)
    target_log_probs = torch.log_softmax(nets.target_policy.read(features, graph), -1)
    resampled_log_probs = torch.log_softmax(
        nets.target_policy.read(features, nets.relation(obs, resampled)), -1
    )
    sampled = torch.distributions.Categorical(logits=nets.policy(obs, graph.detach())).sample()
    pick = sampled[..., None]
    mi = losses.relation_mi_loss(
        target_log_probs.gather(-1, pick).squeeze(-1),
        resampled_log_probs.gather(-1, pick.expand(5, 3, 4, 1)).squeeze(-1),
        mask,
    )
    assert grad_groups(nets, mi) == {"relation"}

    z = nets.sample_latent(obs["game"], gen)
    classes = nets.classifier(obs, nets.relation(obs, z))
    ce = losses.game_classifier_loss(classes, torch.full((3, 4), 2), mask)
    assert {"prior", "classifier"} <= grad_groups(nets, ce)


def test_token_attention_equals_attention_with_explicit_keys():
    torch.manual_seed(0)
    attention = TokenAttention(query_size=5, token_size=7, num_heads=3, key_size=4).double()
    x = torch.randn(2, 6, 5, dtype=torch.float64)
    tokens = torch.randn(2, 6, 9, 7, dtype=torch.float64)
    mask = torch.rand(2, 6, 9) > 0.3
    weights = attention(x, tokens, mask)
    query = attention.query(x).unflatten(-1, (3, 4))  # (B, N, H, d)
    keys = attention.key(tokens).unflatten(-1, (3, 4))  # (B, N, K, H, d)
    logits = torch.einsum("bnhd,bnkhd->bnhk", query, keys) / 2.0
    expected = torch.softmax(logits.masked_fill(~mask.unsqueeze(-2), float("-inf")), -1)
    expected = torch.nan_to_num(expected)  # rows with nothing to attend to: zeros
    torch.testing.assert_close(weights, expected, rtol=0, atol=1e-12)


def test_attend_moves_extra_leading_axes_next_to_the_tokens():
    weights = torch.rand(5, 2, 3, 4, dtype=torch.float64)  # n graphs over (B, N) agents
    values = torch.randn(2, 3, 4, 6, dtype=torch.float64)
    expected = torch.einsum("nbik,bikd->nbid", weights, values)
    torch.testing.assert_close(attend(weights, values), expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(attend(weights[0], values), expected[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize(("m", "k", "n"), [(1, 6, 8), (3, 5, 1), (1, 4, 1), (2, 3, 4)])
def test_small_matmul_has_matmuls_values_and_gradients(m, k, n):
    """The broadcast-product backward of ``small_matmul`` (used by ``attend`` and the
    attention logits) against finite differences and against ``torch.matmul``'s autograd."""
    generator = torch.Generator().manual_seed(m * 100 + k * 10 + n)
    a = torch.randn(2, 3, m, k, dtype=torch.float64, generator=generator, requires_grad=True)
    b = torch.randn(2, 3, k, n, dtype=torch.float64, generator=generator, requires_grad=True)
    assert torch.autograd.gradcheck(small_matmul, (a, b))
    weights = torch.randn(2, 3, m, n, dtype=torch.float64, generator=generator)
    expected = torch.autograd.grad((torch.matmul(a, b) * weights).sum(), (a, b))
    got = torch.autograd.grad((small_matmul(a, b) * weights).sum(), (a, b))
    torch.testing.assert_close(small_matmul(a, b), torch.matmul(a, b), rtol=0, atol=1e-12)
    for want, have in zip(expected, got, strict=True):
        torch.testing.assert_close(have, want, rtol=0, atol=1e-12)
    # Only the gradient asked for is computed; broadcast leading shapes take torch.matmul.
    (grad_b,) = torch.autograd.grad(small_matmul(a.detach(), b).sum(), (b,))
    assert grad_b.shape == b.shape
    assert small_matmul(a[:1], b).shape == (2, 3, m, n)
