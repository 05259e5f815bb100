"""The Learner's side of Meta-MAPG: replay a stored chain with ``create_graph=True`` and form
the losses whose gradients are Eq. 6 (actor) and the value regression (critic).

Sampling and replay run the same inner updates (docs/architecture.md, "Meta-MAPG family"): the
EnvRunner sampled the chain with them but kept no graph; the replay here is deterministic given
the stored trajectories, so it recomputes the same ``phi_1..phi_L``, now as differentiable
functions of ``phi_0``.
"""

import dataclasses

import torch

from rllib_meta.algorithms.meta_mapg.agent import MetaAgent
from rllib_meta.algorithms.meta_mapg.chain import (
    LearningTerms,
    PlayerParams,
    StepResult,
    UnrolledChain,
    fresh_leaves,
    unroll_chain,
)
from rllib_meta.algorithms.meta_mapg.objectives import (
    InnerLoop,
    TrajectoryBatch,
    chain_step_objectives,
    lookahead_peers,
    outer_surrogate,
    value_loss,
)
from rllib_meta.algorithms.meta_mapg.opponent_modeling import infer_tabular_logits
from rllib_meta.algorithms.meta_mapg.peers import TABULAR_PEERS, PeerPolicy, TabularPeers
from rllib_meta.core.advantages import generalized_advantages
from rllib_meta.core.dice import dice_objective

META_GRADIENTS = ("lola", "meta", "reinforce")


@dataclasses.dataclass(frozen=True)
class ReplaySettings:
    """What the replay needs from the algorithm's config."""

    gamma: float
    gae_lambda: float
    peer_learning_rate: float
    terms: LearningTerms
    outer_estimator: str = "dice"
    entropy_coeff: float = 0.0
    # "meta": Eq. 6 through the chain; "reinforce": a policy gradient on tau_0 only (the
    # stationary view); "lola": the LOLA-DiCE objective on tau_0 (Foerster et al. 2018c).
    meta_gradient: str = "meta"
    opponent_modeling: bool = False  # infer the (tabular) peers' parameters from their actions
    lookahead: int = 0  # > 0: the meta-agent adapts with LOLA-DiCE steps
    peer_policy: PeerPolicy = TABULAR_PEERS  # how the peers' parameters score their actions

    def inner_loop(self, agent: MetaAgent) -> InnerLoop:
        return InnerLoop(
            agent.policy,
            agent.num_states,
            self.gamma,
            self.peer_learning_rate,
            self.lookahead,
            self.peer_policy,
        )


@dataclasses.dataclass
class ChainLosses:
    actor_loss: torch.Tensor
    value_loss: torch.Tensor
    metrics: dict[str, float]


def make_step_objectives(
    agent: MetaAgent, batches: list[TrajectoryBatch], settings: ReplaySettings
):
    """``step_objectives`` for :func:`unroll_chain` reading stored batches.

    The log-probabilities kept for the outer loss are those under the chain's peer parameters
    (true ones, or with opponent modeling the inferred-then-updated ``phi-hat_{l}``); with
    opponent modeling the peers' inner updates start from parameters re-inferred from their
    actions in this batch (Algorithm 3, lines 8 and 10).
    """

    inner = settings.inner_loop(agent)

    def step_objectives(step, agent_params, peer_params):
        batch = batches[step]
        if not settings.opponent_modeling:
            agent_objective, peer_objectives, log_probs = chain_step_objectives(
                inner, agent_params, list(peer_params), batch
            )
            return StepResult(agent_objective, peer_objectives, log_probs=log_probs)
        log_probs = inner.log_probs(agent_params, list(peer_params), batch)
        starts = inferred_peers(batch, agent.num_states, peer_params[0].shape[-1])
        agent_objective, peer_objectives, _ = chain_step_objectives(
            inner, agent_params, starts, batch
        )
        return StepResult(agent_objective, peer_objectives, log_probs=log_probs, peer_starts=starts)

    return step_objectives


def inferred_peers(batch: TrajectoryBatch, num_states: int, num_actions: int) -> list:
    """Every peer's tabular parameters inferred from its actions in ``batch`` (App. B)."""
    return [
        infer_tabular_logits(batch.states, actions, num_states, num_actions).requires_grad_(True)
        for actions in batch.actions[1:]
    ]


def unroll_stored_chain(
    agent: MetaAgent,
    batches: list[TrajectoryBatch],
    peer_params: list[PlayerParams],
    settings: ReplaySettings,
) -> UnrolledChain:
    """Recompute ``phi_1..phi_L`` of both agents from the stored trajectories, keeping the
    graph the algorithm's learning terms ask for."""
    if settings.meta_gradient not in META_GRADIENTS:
        raise ValueError(
            f"meta_gradient must be one of {META_GRADIENTS}, got {settings.meta_gradient!r}"
        )
    terms = settings.terms if settings.meta_gradient == "meta" else LearningTerms(False, False)
    if settings.opponent_modeling and not isinstance(settings.peer_policy, TabularPeers):
        raise ValueError(
            "opponent_modeling infers tabular peers (closed-form maximum likelihood); got "
            f"peer_policy {type(settings.peer_policy).__name__}"
        )
    if settings.opponent_modeling:  # the true personas stay unknown to the meta-agent
        num_actions = peer_params[0].shape[-1]
        peer_params = inferred_peers(batches[0], agent.num_states, num_actions)
    peers = [fresh_leaves(params) for params in peer_params]
    return unroll_chain(
        agent.policy_params(),
        peers,
        make_step_objectives(agent, batches, settings),
        agent.inner_learning_rates,
        settings.peer_learning_rate,
        len(batches) - 1,
        terms,
    )


def replay_chain(
    agent: MetaAgent,
    batches: list[TrajectoryBatch],
    peer_params: list[PlayerParams],
    settings: ReplaySettings,
) -> ChainLosses:
    """Losses of one stored chain ``tau_0..tau_L`` (Algorithm 1, lines 5-10)."""
    # One value-network pass over every batch of the chain (it is not adapted in the loop).
    all_values = agent.values(torch.cat([batch.states for batch in batches]))
    values = list(all_values.split(len(batches[0].states)))
    inner = settings.inner_loop(agent)
    if settings.meta_gradient == "meta":
        unrolled = unroll_stored_chain(agent, batches, peer_params, settings)
        last = inner.log_probs(unrolled.agent_params[-1], unrolled.peer_params[-1], batches[-1])
        log_probs = [*unrolled.step_log_probs, last]
        surrogate = outer_surrogate(
            log_probs,
            batches,
            values,
            settings.gamma,
            settings.gae_lambda,
            settings.outer_estimator,
        )
        first = log_probs[0]
    else:  # the baselines learn phi_0 from the first batch only
        peers = [fresh_leaves(params) for params in peer_params]
        first = inner.log_probs(agent.policy_params(), peers, batches[0])
        if settings.meta_gradient == "reinforce":
            surrogate = reinforce_surrogate(first, batches[0], values[0], settings)
        else:
            surrogate = lola_surrogate(agent, peers, batches[0], values[0], settings)
    entropy = first.entropy.mean()
    actor_loss = -(surrogate + settings.entropy_coeff * entropy)
    critic_loss = value_loss(values, batches, settings.gamma)
    rewards = torch.stack([batch.rewards.mean(dim=(1, 2)) for batch in batches])  # (L+1, n)
    metrics = {
        "surrogate": float(surrogate.detach()),
        "entropy_first_batch": float(entropy.detach()),
        "value_loss": float(critic_loss.detach()),
        **{f"agent_reward_step_{s}": float(rewards[s, 0]) for s in range(len(batches))},
    }
    return ChainLosses(actor_loss=actor_loss, value_loss=critic_loss, metrics=metrics)


def reinforce_surrogate(
    log_probs, batch: TrajectoryBatch, values: torch.Tensor, settings: ReplaySettings
) -> torch.Tensor:
    """REINFORCE baseline (paper 001, Section 5): a policy gradient on the meta-agent's own
    first trajectories, as if its and its peers' policies stayed fixed in the future."""
    advantages = generalized_advantages(
        batch.rewards[0], values.detach(), settings.gamma, settings.gae_lambda
    )
    return (log_probs.agent * advantages).sum(1).mean()


def lola_surrogate(
    agent: MetaAgent,
    peers: list[torch.Tensor],
    batch: TrajectoryBatch,
    values: torch.Tensor,
    settings: ReplaySettings,
) -> torch.Tensor:
    """LOLA-DiCE baseline (Foerster et al. 2018c; paper 001 Section 5): the meta-agent's DiCE
    objective on its first trajectories after ``lookahead`` look-ahead updates of the peers,
    with the learned value network as DiCE baseline. It models how it shapes its peers'
    learning, not its own learning."""
    params = agent.policy_params()
    inner = settings.inner_loop(agent)
    ahead = lookahead_peers(inner, params, peers, batch, max(1, settings.lookahead))
    log_probs = inner.log_probs(params, ahead, batch)
    return dice_objective(log_probs.joint, batch.rewards[0], settings.gamma, values.detach())
