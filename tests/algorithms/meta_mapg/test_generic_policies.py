"""The meta-gradient beyond the matrix games: a Gaussian LSTM meta-agent (continuous actions)
and peers with network policies (a teammate population, as for 2-agent HalfCheetah), on
stored continuous-observation trajectories."""

import gymnasium as gym
import pytest
import torch
from ray.rllib.core.columns import Columns
from torch.func import functional_call

from rllib_meta.algorithms.meta_mapg.agent import MetaAgent
from rllib_meta.algorithms.meta_mapg.chain import LearningTerms, fresh_leaves
from rllib_meta.algorithms.meta_mapg.distributions import CATEGORICAL, DiagonalGaussian
from rllib_meta.algorithms.meta_mapg.meta_gradient import (
    ReplaySettings,
    replay_chain,
    unroll_stored_chain,
)
from rllib_meta.algorithms.meta_mapg.networks import LSTMNet
from rllib_meta.algorithms.meta_mapg.objectives import (
    TrajectoryBatch,
    batch_log_probs,
)
from rllib_meta.algorithms.meta_mapg.peers import NetworkPeers
from rllib_meta.algorithms.meta_mapg.rl_module import MetaAgentRLModule
from rllib_meta.algorithms.meta_mapg.sampling import sample_chain
from rllib_meta.core.advantages import discounted_returns
from rllib_meta.core.baselines import linear_feature_baseline
from rllib_meta.core.dice import dice_objective

OBS, ACT, K, H, L = 3, 2, 8, 5, 2
GAUSSIAN = DiagonalGaussian()


def test_gaussian_matches_torch_normal():
    outputs = torch.randn(4, 6, 2 * ACT).clamp(-1.9, 1.9)  # inside the log-std range
    actions = torch.randn(4, 6, ACT)
    log_prob, entropy = GAUSSIAN.log_prob_and_entropy(outputs, actions)
    mean, log_std = outputs.chunk(2, -1)
    normal = torch.distributions.Normal(mean, log_std.exp())
    torch.testing.assert_close(log_prob, normal.log_prob(actions).sum(-1))
    torch.testing.assert_close(entropy, normal.entropy().sum(-1))


def test_categorical_matches_torch_categorical():
    logits = torch.randn(4, 6, 3)
    actions = torch.randint(0, 3, (4, 6))
    log_prob, entropy = CATEGORICAL.log_prob_and_entropy(logits, actions)
    reference = torch.distributions.Categorical(logits=logits)
    torch.testing.assert_close(log_prob, reference.log_prob(actions))
    torch.testing.assert_close(entropy, reference.entropy())


def test_gaussian_refuses_an_empty_log_std_range():
    with pytest.raises(ValueError, match="min_log_std < max_log_std"):
        DiagonalGaussian(min_log_std=1.0, max_log_std=1.0)


def continuous_chain(seed: int = 0, players: int = 2) -> list[TrajectoryBatch]:
    generator = torch.Generator().manual_seed(seed)
    return [
        TrajectoryBatch(
            states=torch.randn(K, H, OBS, generator=generator),
            actions=torch.randn(players, K, H, ACT, generator=generator),
            rewards=torch.randn(players, K, H, generator=generator),
        )
        for _ in range(L + 1)
    ]


def gaussian_setting():
    torch.manual_seed(0)
    agent = MetaAgent(OBS, ACT, L, inner_learning_rate=0.3, hidden=8, distribution=GAUSSIAN)
    teammate = LSTMNet(OBS, 2 * ACT, hidden=8, distribution=GAUSSIAN)
    peer = dict(teammate.named_parameters())
    return agent, NetworkPeers(teammate), peer


def settings(peers: NetworkPeers, terms: LearningTerms) -> ReplaySettings:
    return ReplaySettings(0.9, 0.95, 0.5, terms, peer_policy=peers)


def test_each_network_peer_is_updated_with_its_own_objective_only():
    # Two teammates with their own parameters, actions and rewards. Their DiCE objectives
    # share the joint log-probability, so each depends on both peers' parameters: a peer
    # updated with the other's objective, or with the sum of both, would move differently.
    agent, peers, first = gaussian_setting()
    torch.manual_seed(1)
    second = dict(LSTMNet(OBS, 2 * ACT, hidden=8, distribution=GAUSSIAN).named_parameters())
    batches = continuous_chain(players=3)[:2]  # tau_0 and tau_1: one inner update
    terms = LearningTerms()
    replayed = unroll_stored_chain(agent, batches, [first, second], settings(peers, terms))

    batch, gamma, peer_lr = batches[0], 0.9, 0.5
    leaves = [fresh_leaves(first), fresh_leaves(second)]

    def log_prob(network, params, player):
        outputs = functional_call(network, params, (batch.states,))
        return network.distribution.log_prob_and_entropy(outputs, batch.actions[player])[0]

    joint = log_prob(agent.policy, agent.policy_params(), 0) + sum(
        log_prob(peers.network, params, player) for player, params in enumerate(leaves, start=1)
    )

    def objective(player):
        rewards = batch.rewards[player]
        baseline = linear_feature_baseline(batch.states, discounted_returns(rewards, gamma))
        return dice_objective(joint, rewards, gamma, baseline=baseline)

    objectives = [objective(1), objective(2)]

    def gradient(value, params):
        return torch.autograd.grad(value, list(params.values()), retain_graph=True)

    for index, (params, updated) in enumerate(zip(leaves, replayed.peer_params[1], strict=True)):
        own = gradient(objectives[index], params)
        other = gradient(objectives[1 - index], params)
        assert sum((g - h).abs().sum() for g, h in zip(own, other, strict=True)) > 1e-3
        for (name, value), grad in zip(params.items(), own, strict=True):
            torch.testing.assert_close(updated[name].detach(), value + peer_lr * grad)


@pytest.mark.parametrize("peer_learning", [True, False], ids=["meta-mapg", "meta-pg"])
def test_peer_learning_term_through_a_network_peer(peer_learning):
    agent, peers, peer = gaussian_setting()
    batches = continuous_chain()
    terms = LearningTerms(own_learning=True, peer_learning=peer_learning)
    replayed = unroll_stored_chain(agent, batches, [peer], settings(peers, terms))
    last = batch_log_probs(
        agent.policy, replayed.agent_params[-1], replayed.peer_params[-1], batches[-1], None, peers
    )
    grads = torch.autograd.grad(
        last.peers[0].sum(), list(agent.policy.parameters()), allow_unused=True
    )
    through_peer = sum(0.0 if g is None else g.abs().sum().item() for g in grads)
    assert (through_peer > 0) == peer_learning


def test_gaussian_meta_agent_losses_reach_every_actor_parameter():
    agent, peers, peer = gaussian_setting()
    losses = replay_chain(agent, continuous_chain(), [peer], settings(peers, LearningTerms()))
    (losses.actor_loss + losses.value_loss).backward()
    for name, parameter in agent.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name


def test_matrix_game_sampler_refuses_a_continuous_policy():
    agent, _, _ = gaussian_setting()
    with pytest.raises(ValueError, match=r"\(Categorical\), got DiagonalGaussian"):
        sample_chain(agent, [torch.zeros(5, 2)], None, L, 0.9, 1.0, torch.Generator())


@pytest.mark.parametrize(
    ("action_space", "dist_name", "outputs"),
    [
        (gym.spaces.Discrete(3), "TorchCategorical", 3),
        (gym.spaces.Box(-1, 1, (ACT,)), "TorchDiagGaussian", 2 * ACT),
    ],
    ids=["discrete", "continuous"],
)
def test_rl_module_builds_the_policy_head_from_the_action_space(action_space, dist_name, outputs):
    module = MetaAgentRLModule(
        observation_space=gym.spaces.Box(0, 1, (OBS,)),
        action_space=action_space,
        model_config={"chain_length": L, "inner_learning_rate": 0.1, "hidden_size": 8},
    )
    assert module.get_inference_action_dist_cls().__name__ == dist_name
    observations = torch.eye(OBS)
    out = module.forward_inference({Columns.OBS: observations})[Columns.ACTION_DIST_INPUTS]
    assert out.shape == (OBS, outputs)
    expected = module.agent.policy(observations.argmax(-1).unsqueeze(1)).squeeze(1)
    torch.testing.assert_close(out, expected)  # one-hot features = state indices


def test_opponent_modeling_refuses_network_peers():
    agent, peers, peer = gaussian_setting()
    refused = ReplaySettings(
        0.9, 0.95, 0.5, LearningTerms(), opponent_modeling=True, peer_policy=peers
    )
    with pytest.raises(ValueError, match=r"infers tabular peers.*got peer_policy NetworkPeers"):
        unroll_stored_chain(agent, continuous_chain(), [peer], refused)
