"""The MRA Learner's critic and policy steps, computed chunk by chunk of the minibatch
(``MRALearner.critic_gradients`` / ``policy_gradients``), against the previous whole-minibatch
computation kept here as the reference: the same losses and gradients to float rounding, from
the same generator state (the same action draws), and the generator left in the same state."""

import pytest
import torch

from rllib_meta.algorithms.mra import losses
from rllib_meta.algorithms.mra.algorithm import MRA
from rllib_meta.algorithms.mra.attention import gather_others
from tests import tiny_configs


def view(tensors, agents):
    return {key: value[:, agents] for key, value in tensors.items()}


def draw(logits, generator):
    probs = torch.softmax(logits, -1).flatten(0, -2)
    return torch.multinomial(probs, 1, generator=generator).view(logits.shape[:-1])


def reference_critic(learner, batch):
    """Eq. 8 on the whole minibatch at once: the previous ``soft_targets`` + ``critic_step``."""
    roles = list(learner._roles_of(batch.game))
    config, slots = learner.config, learner.num_slots
    with torch.no_grad():
        next_logits = [
            nets.target_policy(view(batch.next_obs, agents), graph)
            for (nets, agents), graph in zip(roles, batch.next_graphs, strict=True)
        ]
        next_actions = torch.cat([draw(x, learner.generator) for x in next_logits], 1)
        others_next = gather_others(next_actions, slots)
        targets = [
            losses.soft_q_target(
                batch.rewards[:, agents],
                batch.terminated[:, agents],
                x,
                nets.target_critic(view(batch.next_obs, agents), others_next[:, agents], graph),
                config.gamma,
                learner.alpha,
            )
            for (nets, agents), graph, x in zip(roles, batch.next_graphs, next_logits, strict=True)
        ]
    others = gather_others(batch.actions, slots)
    loss = sum(
        losses.critic_loss(
            nets.critic(view(batch.obs, agents), others[:, agents], graph),
            batch.actions[:, agents],
            target,
            batch.mask[:, agents],
        )
        for (nets, agents), graph, target in zip(roles, batch.graphs, targets, strict=True)
    )
    return loss, learner.group_params("critic")


def reference_policy(learner, batch):
    """Eq. 9 on the whole minibatch at once: the previous ``policy_step``'s loss."""
    roles = list(learner._roles_of(batch.game))
    logits = [
        nets.policy(view(batch.obs, agents), graph)
        for (nets, agents), graph in zip(roles, batch.graphs, strict=True)
    ]
    with torch.no_grad():
        current = torch.cat([draw(x.detach(), learner.generator) for x in logits], 1)
        others = gather_others(current, learner.num_slots)
        q_values = [
            nets.critic(view(batch.obs, agents), others[:, agents], graph)
            for (nets, agents), graph in zip(roles, batch.graphs, strict=True)
        ]
    loss = sum(
        losses.policy_loss(x, q, learner.alpha, batch.mask[:, agents])
        for x, q, (_, agents) in zip(logits, q_values, roles, strict=True)
    )
    return loss, learner.group_params("policy")


def gradients(loss, params):
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads, strict=True)]


@pytest.fixture(scope="module")
def learner_and_batch(ray_instance):
    settings = {**tiny_configs.MRA, "training_populations": [5], "replay_batch_size": 24}
    config = MRA.get_default_config().environment(
        "resource_occupation", env_config=tiny_configs.MRA_ENV_CONFIG
    )
    algorithm = config.update_from_dict(settings).build_algo()
    learner = algorithm.learner_group._learner
    learner.update_from_transitions(algorithm.env_runner.sample()["transitions"])
    batch = learner.minibatch(learner.games[0])
    yield learner, batch
    algorithm.stop()


@pytest.mark.parametrize("chunk_agents", [1, 10, 37, 10**6])  # 1, 2, 7 transitions; all 24
@pytest.mark.parametrize(
    ("fast", "reference"),
    [("critic_gradients", reference_critic), ("policy_gradients", reference_policy)],
)
def test_chunked_losses_and_gradients_equal_the_whole_minibatch(
    learner_and_batch, chunk_agents, fast, reference
):
    learner, batch = learner_and_batch
    start = learner.generator.get_state()
    expected_loss, params = reference(learner, batch)
    expected = gradients(expected_loss, params)
    after_reference = learner.generator.get_state()

    learner.generator.set_state(start)
    learner.chunk_agents = chunk_agents
    try:
        loss, grads = getattr(learner, fast)(batch)
    finally:
        learner.chunk_agents = 1024
    assert torch.equal(learner.generator.get_state(), after_reference)  # the same draws
    torch.testing.assert_close(loss, expected_loss.detach(), rtol=1e-5, atol=1e-6)
    assert list(grads) == params
    for got, want in zip(grads.values(), expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)
    assert any(float(g.abs().max()) > 1e-4 for g in expected)  # a real gradient


def test_a_chunk_count_makes_the_chunks_sum_to_the_mean():
    values = torch.arange(12.0).view(6, 2)
    mask = torch.tensor([[1, 0], [1, 1], [0, 0], [1, 1], [0, 1], [1, 1]], dtype=torch.bool)
    count = losses.chunk_count(mask)
    parts = sum(losses.masked_mean(values[r], mask[r], count) for r in (slice(0, 4), slice(4, 6)))
    torch.testing.assert_close(parts, losses.masked_mean(values, mask))
    assert float(losses.masked_mean(values, None, torch.tensor(4))) == float(values.sum() / 4)
