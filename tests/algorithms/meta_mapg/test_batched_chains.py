"""The chain-batched replay (issue 16): C chains of a meta-batch replayed as one computation give
every chain the actor and critic gradients (and metrics) of replaying that chain alone, for
every meta-gradient the Learner computes. In float64, so that a wrong row (a chain reading
another chain's data or parameters) is far outside the tolerance."""

import dataclasses

import numpy as np
import pytest
import torch

from envs.matrix.batched import BatchedIteratedMatrixGame
from envs.matrix.games import ipd, rps
from rllib_meta.algorithms.meta_mapg.agent import MetaAgent
from rllib_meta.algorithms.meta_mapg.chain import LearningTerms
from rllib_meta.algorithms.meta_mapg.cheetah import network_params_record
from rllib_meta.algorithms.meta_mapg.distributions import DiagonalGaussian
from rllib_meta.algorithms.meta_mapg.env_runner import chain_record
from rllib_meta.algorithms.meta_mapg.learner import batched_chain_gradients, per_chain_gradients
from rllib_meta.algorithms.meta_mapg.meta_gradient import ReplaySettings
from rllib_meta.algorithms.meta_mapg.sampling import sample_chain
from rllib_meta.algorithms.meta_mapg.teammates import teammate_network

GAMMA, PEER_LR, CHAINS, CHAIN_LENGTH = 0.9, 0.5, 3, 2
MAPG = ReplaySettings(GAMMA, 0.95, PEER_LR, LearningTerms(True, True), entropy_coeff=0.1)
VARIANTS = {
    "meta-mapg": MAPG,
    "meta-pg": dataclasses.replace(MAPG, terms=LearningTerms(True, False)),
    "no-own-learning": dataclasses.replace(MAPG, terms=LearningTerms(False, True)),
    "theorem-estimator": dataclasses.replace(MAPG, outer_estimator="theorem"),
    "reference-estimator": dataclasses.replace(MAPG, outer_estimator="reference"),
    "lola-dice-adaptation": dataclasses.replace(MAPG, lookahead=1),
    "lola-dice": dataclasses.replace(MAPG, meta_gradient="lola", lookahead=1),
    "reinforce": dataclasses.replace(MAPG, meta_gradient="reinforce"),
    "opponent-modeling": dataclasses.replace(MAPG, opponent_modeling=True),
}


def float64(record: dict) -> dict:
    return {
        key: value.astype(np.float64) if np.issubdtype(value.dtype, np.floating) else value
        for key, value in record.items()
    }


def matrix_game_records(game, num_peers: int) -> tuple[MetaAgent, list[dict]]:
    """CHAINS chains sampled against different random peers (their personas' logits)."""
    torch.manual_seed(0)
    batched = BatchedIteratedMatrixGame(game, 5, 8)
    num_states = batched.num_states
    agent = MetaAgent(num_states, batched.num_actions, CHAIN_LENGTH, 0.3).double()
    generator = torch.Generator().manual_seed(1)
    records = []
    for chain in range(CHAINS):
        peers = [
            torch.randn(num_states, batched.num_actions, generator=generator, dtype=torch.float64)
            for _ in range(num_peers)
        ]
        sampled = sample_chain(agent, peers, batched, CHAIN_LENGTH, GAMMA, PEER_LR, generator)
        records.append(float64(chain_record(sampled, np.arange(num_peers) + chain)))
    return agent, records


def cheetah_records() -> tuple[MetaAgent, list[dict]]:
    """HalfCheetah-shaped chains (17-value observations, 3-d actions, a network teammate per
    chain with its own parameters); random trajectories: the replay does not see physics."""
    torch.manual_seed(0)
    agent = MetaAgent(17, 3, CHAIN_LENGTH, 0.01, hidden=16, distribution=DiagonalGaussian())
    agent = agent.double()
    generator = torch.Generator().manual_seed(2)
    steps, trajectories, horizon = CHAIN_LENGTH + 1, 6, 4
    records = []
    for chain in range(CHAINS):
        teammate = teammate_network(8).double()
        for value in teammate.parameters():
            value.data.normal_(0.0, 0.3, generator=generator)
        rewards = torch.randn(steps, 1, trajectories, horizon, generator=generator)
        records.append(
            {
                "states": torch.randn(steps, trajectories, horizon, 17, generator=generator)
                .double()
                .numpy(),
                "actions": torch.randn(steps, 2, trajectories, horizon, 3, generator=generator)
                .double()
                .numpy(),
                "rewards": rewards.expand(steps, 2, trajectories, horizon).double().numpy(),
                "peer_params": {
                    name: value[None]
                    for name, value in network_params_record(
                        dict(teammate.named_parameters())
                    ).items()
                },
                "teammates": np.asarray([chain]),
            }
        )
    return agent, records


def assert_batched_equals_per_chain(agent, records, settings, learn_rates=True):
    actor, critic, metrics = batched_chain_gradients(agent, records, settings, learn_rates)
    expected_actor, expected_critic, expected_metrics = per_chain_gradients(
        agent, records, settings, learn_rates
    )
    assert actor.shape == expected_actor.shape and actor.dtype == torch.float64
    torch.testing.assert_close(actor, expected_actor, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(critic, expected_critic, rtol=1e-9, atol=1e-12)
    for batched, alone in zip(metrics, expected_metrics, strict=True):
        assert batched == pytest.approx(alone, rel=1e-9, abs=1e-12)
    # The chains differ (data and peers), so a row read from the wrong chain would show.
    assert (expected_actor[0] - expected_actor[1]).abs().max() > 1e-4
    assert (expected_critic[0] - expected_critic[1]).abs().max() > 1e-4


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_batched_replay_equals_replaying_each_ipd_chain_alone(variant):
    agent, records = matrix_game_records(ipd(), num_peers=1)
    assert_batched_equals_per_chain(agent, records, VARIANTS[variant])


@pytest.mark.parametrize("variant", ["meta-mapg", "opponent-modeling"])
def test_batched_replay_with_two_peers_each_updated_on_its_own(variant):
    agent, records = matrix_game_records(rps(3), num_peers=2)
    assert_batched_equals_per_chain(agent, records, VARIANTS[variant], learn_rates=False)


@pytest.mark.parametrize("variant", ["meta-mapg", "meta-pg", "lola-dice", "reinforce"])
def test_batched_replay_with_network_peers_halfcheetah(variant):
    agent, records = cheetah_records()
    assert_batched_equals_per_chain(agent, records, VARIANTS[variant])


def test_batched_replay_float32_matches_to_float_tolerance():
    agent, records = matrix_game_records(ipd(), num_peers=1)
    agent = agent.float()
    records = [
        {k: v.astype(np.float32) if v.dtype == np.float64 else v for k, v in r.items()}
        for r in records
    ]
    actor, critic, _ = batched_chain_gradients(agent, records, MAPG, True)
    expected_actor, expected_critic, _ = per_chain_gradients(agent, records, MAPG, True)
    torch.testing.assert_close(actor, expected_actor, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(critic, expected_critic, rtol=1e-5, atol=1e-6)
