"""The MRA Learner's critic and policy steps, computed chunk by chunk of the minibatch
(``MRALearner.critic_gradients`` / ``policy_gradients``), against the previous whole-minibatch
computation, kept as the reference in benchmarks/mra_throughput.py: the same losses and
gradients to float rounding, from the same generator state (the same action draws), and the
generator left in the same state."""

import pytest
import torch

from benchmarks.mra_throughput import whole_minibatch_critic_loss, whole_minibatch_policy_loss
from rllib_meta.algorithms.mra import losses
from rllib_meta.algorithms.mra.algorithm import MRA
from tests import tiny_configs


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
    [
        ("critic_gradients", whole_minibatch_critic_loss),
        ("policy_gradients", whole_minibatch_policy_loss),
    ],
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
