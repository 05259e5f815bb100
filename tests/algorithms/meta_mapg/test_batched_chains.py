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
from rllib_meta.algorithms.meta_mapg.meta_gradient import ReplaySettings, unroll_stored_chain
from rllib_meta.algorithms.meta_mapg.sampling import sample_chain, sample_chains
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


def test_batched_sampling_plays_each_chain_by_its_own_inner_updates():
    # C chains sampled at once (one game batch of C x K, one LSTM step per time step for all):
    # replaying each chain alone from its own data recomputes the joint policies that drew it,
    # so each chain was adapted on its own trajectories with its own peers.
    torch.manual_seed(0)
    agent = MetaAgent(5, 2, CHAIN_LENGTH, 0.3)
    generator = torch.Generator().manual_seed(3)
    peers = [[torch.randn(5, 2, generator=generator)] for _ in range(CHAINS)]
    game = BatchedIteratedMatrixGame(ipd(), 6, 8 * CHAINS)

    def sample(seed):
        generator = torch.Generator().manual_seed(seed)
        return sample_chains(agent, peers, game, CHAIN_LENGTH, GAMMA, PEER_LR, generator)

    chains = sample(0)
    for chain, chain_peers in zip(chains, peers, strict=True):
        assert chain.batches[0].states.shape == (8, 6)
        assert chain.batches[0].actions.shape == chain.batches[0].rewards.shape == (2, 8, 6)
        torch.testing.assert_close(chain.peer_logits[0][0], chain_peers[0])
        replayed = unroll_stored_chain(agent, chain.batches, chain_peers, MAPG)
        for sampled, recomputed in zip(chain.agent_params, replayed.agent_params, strict=True):
            for name, value in sampled.items():
                torch.testing.assert_close(recomputed[name].detach(), value, rtol=1e-5, atol=1e-6)
        for sampled, recomputed in zip(chain.peer_logits, replayed.peer_params, strict=True):
            torch.testing.assert_close(recomputed[0].detach(), sampled[0], rtol=1e-5, atol=1e-6)
    assert not torch.equal(chains[0].batches[0].actions, chains[1].batches[0].actions)
    assert not torch.equal(chains[0].agent_params[-1]["head.bias"], agent.policy.head.bias)
    again = sample(0)  # seeded: the same draws
    for first, second in zip(chains, again, strict=True):
        for a, b in zip(first.batches, second.batches, strict=True):
            assert torch.equal(a.actions, b.actions) and torch.equal(a.rewards, b.rewards)
    with pytest.raises(ValueError, match="cannot hold"):
        odd = BatchedIteratedMatrixGame(ipd(), 6, 8 * CHAINS + 1)
        sample_chains(agent, peers, odd, CHAIN_LENGTH, GAMMA, PEER_LR, generator)
