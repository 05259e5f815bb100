"""Inner-loop and outer-loop objectives of Meta-MAPG on sampled trajectories.

Inner loop (Eq. 4, App. C.2): every agent ascends a DiCE objective (Foerster et al. 2018) of its
own rewards with the linear feature baseline (Duan et al. 2016) refit on the batch. The magic
box holds the JOINT log-probabilities of all agents: the value of each update is an ordinary
policy gradient, and its derivative with respect to ``phi_0`` carries the dependence of the
data on every agent's parameters. That is how a peer's update depends on the meta-agent's
parameters (the peer-learning term); Meta-PG cuts that path by detaching the peers' updates
(``chain.LearningTerms``), which is why the same joint objective serves every variant.

Outer loop (Eq. 6, Theorem 1). ``phi_{l+1}`` of both agents are differentiable functions of
``phi_0`` through the DiCE updates above, so the score of ``tau_{l+1}`` under them, weighted by
the meta-agent's GAE advantages (learned value network), has as gradient the own-learning and
peer-learning terms of Eq. 6; the dependence of the earlier data ``tau_0..tau_l`` on ``phi_0``
(the current-policy term) enters through DiCE's second-order terms: differentiating a DiCE
gradient gives E[grad^2 log p R + grad log p grad log p^T R], the derivative of the EXPECTED
inner update, which is the inner loop of Eq. 4 as written. Three estimators
(``outer_estimator``):

- ``"dice"`` (default): the above. It is unbiased for the gradient of the meta-value with the
  expected inner updates of Eq. 4 (up to the O(1/K) bias of the batch-fitted baselines); the
  tests check it against the exact gradient computed with ``envs.matrix.exact``.
- ``"theorem"``: additionally adds Eq. 6's current-policy and earlier-batch scores explicitly:
  each earlier batch's whole log-likelihood times the mean baselined return of
  ``tau_{l+1}``. With DiCE inner updates this counts the effect of ``tau_0`` on ``phi_1``
  twice to first order in the inner learning rate (once here, once in DiCE's second-order
  term) and its variance grows with K * H; kept to compare.
- ``"reference"``: the pairing of the authors' published Meta-MAPG code: trajectory k of
  every batch paired with trajectory k of ``tau_{l+1}``, time step by time step, with GAE
  advantages: a lower-variance heuristic with the same double count.

Every function here also takes chain-batched data and parameters (a leading chain dimension
``C``, see :class:`TrajectoryBatch`) and returns one objective per chain, ``(C,)``, each
computed from its own chain's data and parameters only.
"""

import dataclasses
from collections.abc import Sequence

import torch
from torch.func import functional_call
from torch.nn import functional as F

from rllib_meta.algorithms.meta_mapg.chain import PlayerParams, inner_update
from rllib_meta.algorithms.meta_mapg.peers import TABULAR_PEERS, PeerPolicy
from rllib_meta.core.advantages import discounted_returns, generalized_advantages
from rllib_meta.core.baselines import linear_feature_baseline
from rllib_meta.core.dice import dice_objective

OUTER_ESTIMATORS = ("dice", "reference", "theorem")


@dataclasses.dataclass(frozen=True)
class TrajectoryBatch:
    """The K trajectories of one chain step, all players on the same state sequence.

    ``states`` (K, H) is the state each action was taken in (canonical index, player 0 most
    significant: the meta-agent is player 0), or (K, H, D) observation features in an
    environment with continuous observations; ``actions`` (n, K, H) discrete or (n, K, H, d)
    continuous; ``rewards`` (n, K, H).

    Chain-batched (C chains of one meta-batch): ``states`` (C, K, H) or (C, K, H, D),
    ``actions`` (n, C, K, H) or (n, C, K, H, d), ``rewards`` (n, C, K, H): the player stays
    the first index of actions and rewards.
    """

    states: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor


@dataclasses.dataclass
class StepLogProbs:
    """Log-probabilities of one batch under the joint policy of its chain step."""

    agent: torch.Tensor  # (K, H) meta-agent; (C, K, H) chain-batched, as all three
    peers: list[torch.Tensor]  # n - 1 tensors (K, H)
    entropy: torch.Tensor  # (K, H) meta-agent's policy entropy

    @property
    def joint(self) -> torch.Tensor:
        return self.agent + sum(self.peers)


def batch_log_probs(
    policy: torch.nn.Module,
    agent_params: dict[str, torch.Tensor],
    peer_params: Sequence[PlayerParams],
    batch: TrajectoryBatch,
    agent_outputs: torch.Tensor | None = None,
    peer_policy: PeerPolicy = TABULAR_PEERS,
) -> StepLogProbs:
    """Every agent's log-probabilities of its actions in ``batch``: the meta-agent's through
    its ``policy.distribution``, the peers' through ``peer_policy``. ``agent_outputs``: the
    meta-agent's outputs under ``agent_params`` if already computed (while sampling)."""
    if agent_outputs is None:
        agent_outputs = functional_call(policy, agent_params, (batch.states,))
    agent, entropy = policy.distribution.log_prob_and_entropy(agent_outputs, batch.actions[0])
    peers = [
        peer_policy.log_probs(params, batch, player)
        for player, params in enumerate(peer_params, start=1)
    ]
    return StepLogProbs(agent=agent, peers=peers, entropy=entropy)


def state_features(states: torch.Tensor, num_states: int, dtype: torch.dtype) -> torch.Tensor:
    """The linear baseline's observation input (K, H, D): one-hot state indices (the matrix
    games, D = ``num_states``) or the observation features themselves."""
    if states.dtype.is_floating_point:
        return states.to(dtype)
    return F.one_hot(states.long(), num_states).to(dtype)


def player_objectives(
    log_probs: StepLogProbs,
    batch: TrajectoryBatch,
    num_states: int,
    gamma: float,
    players: range | None = None,
) -> list[torch.Tensor]:
    """The inner-loop DiCE objectives (Eq. 4), each with its linear feature baseline, of
    ``players`` (default: all; player 0 is the meta-agent)."""
    joint = log_probs.joint
    features = state_features(batch.states, num_states, batch.rewards.dtype)
    objectives = []
    for player in players if players is not None else range(len(batch.rewards)):
        rewards = batch.rewards[player]
        baseline = linear_feature_baseline(features, discounted_returns(rewards, gamma))
        objectives.append(dice_objective(joint, rewards, gamma, baseline=baseline))
    return objectives


@dataclasses.dataclass(frozen=True)
class InnerLoop:
    """What the inner-loop objectives need besides parameters and data (Eq. 4)."""

    policy: torch.nn.Module  # the meta-agent's policy network, called functionally
    num_states: int  # observation size (the linear baseline's one-hot width)
    gamma: float
    peer_learning_rate: float
    lookahead: int = 0  # > 0: the meta-agent's update is a LOLA-DiCE step
    peer_policy: PeerPolicy = TABULAR_PEERS

    def log_probs(
        self,
        agent_params: dict[str, torch.Tensor],
        peer_params: Sequence[PlayerParams],
        batch: TrajectoryBatch,
        agent_outputs: torch.Tensor | None = None,
    ) -> StepLogProbs:
        return batch_log_probs(
            self.policy, agent_params, peer_params, batch, agent_outputs, self.peer_policy
        )

    def objectives(
        self, log_probs: StepLogProbs, batch: TrajectoryBatch, players: range | None = None
    ) -> list[torch.Tensor]:
        return player_objectives(log_probs, batch, self.num_states, self.gamma, players)


def lookahead_peers(
    inner: InnerLoop,
    agent_params: dict[str, torch.Tensor],
    peer_params: Sequence[PlayerParams],
    batch: TrajectoryBatch,
    steps: int,
    agent_outputs: torch.Tensor | None = None,
) -> list[PlayerParams]:
    """LOLA-DiCE's look-ahead (Foerster et al. 2018c): the peers' parameters after ``steps``
    DiCE policy-gradient steps on ``batch``, kept differentiable in the agent's parameters."""
    peers = list(peer_params)
    for _ in range(steps):
        log_probs = inner.log_probs(agent_params, peers, batch, agent_outputs)
        objectives = inner.objectives(log_probs, batch, range(1, len(batch.rewards)))
        peers = [
            inner_update(params, objective, inner.peer_learning_rate, keep_graph=True)
            for params, objective in zip(peers, objectives, strict=True)
        ]
    return peers


def chain_step_objectives(
    inner: InnerLoop,
    agent_params: dict[str, torch.Tensor],
    peer_params: Sequence[PlayerParams],
    batch: TrajectoryBatch,
    agent_outputs: torch.Tensor | None = None,
) -> tuple[torch.Tensor, list[torch.Tensor], StepLogProbs]:
    """Both agents' inner-loop objectives on one chain step's batch, and its log-probs.

    ``inner.lookahead > 0`` makes the meta-agent's update a LOLA-DiCE step: its DiCE
    objective is evaluated after the peers' look-ahead updates, so its gradient includes the
    shaping term. ``agent_outputs``: the meta-agent's outputs on ``batch`` under
    ``agent_params``, if already computed.
    """
    log_probs = inner.log_probs(agent_params, peer_params, batch, agent_outputs)
    agent_objective, *peer_objectives = inner.objectives(log_probs, batch)
    if inner.lookahead:
        ahead = lookahead_peers(
            inner, agent_params, peer_params, batch, inner.lookahead, agent_outputs
        )
        shaped = inner.log_probs(agent_params, ahead, batch, agent_outputs)
        (agent_objective,) = inner.objectives(shaped, batch, range(1))
    return agent_objective, peer_objectives, log_probs


def outer_surrogate(
    log_probs: list[StepLogProbs],
    batches: list[TrajectoryBatch],
    values: list[torch.Tensor],
    gamma: float,
    gae_lambda: float,
    estimator: str = "dice",
) -> torch.Tensor:
    """The Meta-MAPG surrogate whose gradient w.r.t. ``phi_0`` is Eq. 6, averaged over the
    chain steps ``l + 1 = 1..L`` (Algorithm 1, line 10): a scalar, or ``(C,)`` chain-batched.

    ``log_probs[l]`` must come from the unrolled chain (so their dependence on ``phi_0`` is
    exactly the one the algorithm keeps); ``values[l]`` (K, H) are the value network's
    predictions on batch ``l`` (treated as constants here).
    """
    if estimator not in OUTER_ESTIMATORS:
        raise ValueError(f"outer_estimator must be one of {OUTER_ESTIMATORS}, got {estimator!r}")
    # gamma^t: the policy gradient of the return discounted from s_0 (Eq. 1), which
    # implementations often drop; without it the estimate is biased for that objective.
    horizon = log_probs[0].agent.shape[-1]
    discounts = gamma ** torch.arange(horizon, dtype=log_probs[0].agent.dtype)
    scores = [lp.joint * discounts for lp in log_probs]  # detached paths add nothing
    chains = scores[0].shape[:-2]
    total = scores[0].new_zeros(chains)
    earlier_batches = scores[0].new_zeros(chains)  # theorem: sum of whole-batch likelihoods
    earlier_paired = torch.zeros_like(scores[0])  # reference: per trajectory and time step
    for step in range(1, len(batches)):
        earlier_batches = earlier_batches + log_probs[step - 1].joint.sum((-2, -1))
        earlier_paired = earlier_paired + log_probs[step - 1].joint
        rewards = batches[step].rewards[0]
        baseline = values[step].detach()
        advantages = generalized_advantages(rewards, baseline, gamma, gae_lambda)
        current = (scores[step] * advantages).sum(-1).mean(-1)
        if estimator == "dice":
            total = total + current
        elif estimator == "theorem":
            returns = discounted_returns(rewards, gamma)[..., 0]
            initial_advantage = (returns - baseline[..., 0]).mean(-1)
            total = total + current + earlier_batches * initial_advantage
        else:
            paired = earlier_paired + log_probs[step].joint  # undiscounted, as in that code
            total = total + (paired * advantages).sum(-1).mean(-1)
    return total / max(1, len(batches) - 1)


def value_loss(values: list[torch.Tensor], batches: list[TrajectoryBatch], gamma: float):
    """Mean squared error of the value network against Monte-Carlo returns, every batch (one
    per chain, ``(C,)``, chain-batched)."""
    losses = [
        (value - discounted_returns(batch.rewards[0], gamma)).pow(2).mean((-2, -1))
        for value, batch in zip(values, batches, strict=True)
    ]
    return torch.stack(losses).mean(0)
