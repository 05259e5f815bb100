"""The Learner's side of Meta-MAPG: replay a stored chain with ``create_graph=True`` and form
the losses whose gradients are Eq. 6 (actor) and the value regression (critic).

Sampling and replay run the same inner updates (docs/architecture.md, "Meta-MAPG family"): the
EnvRunner sampled the chain with them but kept no graph; the replay here is deterministic given
the stored trajectories, so it recomputes the same ``phi_1..phi_L``, now as differentiable
functions of ``phi_0``.

Chain-batched replay (issue 16): the C chains of a meta-batch replay as one computation, data
and peers with a leading chain dimension (``env_runner.batches_from_records``) and the
meta-agent's ``phi_0`` as per-chain copies (``MetaAgent.chain_copies``): one inner-update
``autograd.grad`` per agent and chain step, and one backward pass, for all C chains. The losses
are then ``(C,)``, and the gradient of their sum w.r.t. the copies has chain ``c``'s own
meta-gradient on row ``c``. Called with the agent's own parameters and unbatched data, the same
functions replay one chain (the per-chain path).
"""

import dataclasses

import torch

from rllib_meta.algorithms.meta_mapg.agent import AgentParams, MetaAgent
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
    """A replay's losses: scalars, or ``(C,)`` chain-batched; ``metrics``: a dict of floats,
    chain-batched one per chain."""

    actor_loss: torch.Tensor
    value_loss: torch.Tensor
    metrics: dict[str, float] | list[dict[str, float]]


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
    """Every peer's tabular parameters inferred from its actions in ``batch`` (App. B); one
    estimate per chain, ``(C, S, A)``, chain-batched."""

    def infer(states, actions):
        if _is_chain_batched(batch):  # each chain's peers from their own actions
            chains = zip(states, actions, strict=True)
            return torch.stack([infer_tabular_logits(*c, num_states, num_actions) for c in chains])
        return infer_tabular_logits(states, actions, num_states, num_actions)

    return [infer(batch.states, actions).requires_grad_(True) for actions in batch.actions[1:]]


def _is_chain_batched(batch: TrajectoryBatch) -> bool:
    """Rewards are ``(n, K, H)`` for one chain, ``(n, C, K, H)`` for C chains."""
    return batch.rewards.dim() == 4


def _own_params(agent) -> AgentParams:
    """The agent's own ``phi_0``; for an agent without a value network's functional form (the
    tests' tabular meta-agents), its policy and learning rates only."""
    if isinstance(agent, MetaAgent):
        return agent.own_params()
    return AgentParams(agent.policy_params(), {}, agent.inner_learning_rates)


def unroll_stored_chain(
    agent: MetaAgent,
    batches: list[TrajectoryBatch],
    peer_params: list[PlayerParams],
    settings: ReplaySettings,
    params: AgentParams | None = None,
) -> UnrolledChain:
    """Recompute ``phi_1..phi_L`` of both agents from the stored trajectories, keeping the
    graph the algorithm's learning terms ask for. ``params``: the meta-agent's ``phi_0``
    (default its own parameters; per-chain copies for chain-batched data)."""
    params = params if params is not None else _own_params(agent)
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
        params.policy,
        peers,
        make_step_objectives(agent, batches, settings),
        params.inner_learning_rates,
        settings.peer_learning_rate,
        len(batches) - 1,
        terms,
    )


def replay_chain(
    agent: MetaAgent,
    batches: list[TrajectoryBatch],
    peer_params: list[PlayerParams],
    settings: ReplaySettings,
    params: AgentParams | None = None,
) -> ChainLosses:
    """Losses of one stored chain ``tau_0..tau_L`` (Algorithm 1, lines 5-10), or of C chains
    at once: chain-batched ``batches`` and ``peer_params`` with ``params`` the meta-agent's
    per-chain copies (``MetaAgent.chain_copies``); the losses are then ``(C,)``."""
    values = _chain_values(agent, batches, params)
    params = params if params is not None else _own_params(agent)
    inner = settings.inner_loop(agent)
    if settings.meta_gradient == "meta":
        unrolled = unroll_stored_chain(agent, batches, peer_params, settings, params)
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
        peers = [fresh_leaves(peer) for peer in peer_params]
        first = inner.log_probs(params.policy, peers, batches[0])
        if settings.meta_gradient == "reinforce":
            surrogate = reinforce_surrogate(first, batches[0], values[0], settings)
        else:
            surrogate = lola_surrogate(agent, peers, batches[0], values[0], settings, params)
    entropy = first.entropy.mean((-2, -1))
    actor_loss = -(surrogate + settings.entropy_coeff * entropy)
    critic_loss = value_loss(values, batches, settings.gamma)
    # the meta-agent's mean reward per step of each batch: (L+1,), or (L+1, C)
    rewards = torch.stack([batch.rewards[0].mean(dim=(-2, -1)) for batch in batches])
    metrics = {
        "surrogate": surrogate.detach(),
        "entropy_first_batch": entropy.detach(),
        "value_loss": critic_loss.detach(),
        **{f"agent_reward_step_{s}": rewards[s] for s in range(len(batches))},
    }
    return ChainLosses(actor_loss=actor_loss, value_loss=critic_loss, metrics=_floats(metrics))


def _chain_values(
    agent: MetaAgent, batches: list[TrajectoryBatch], params: AgentParams | None
) -> list[torch.Tensor]:
    """The value network's predictions on every batch of the chain(s), in one pass (it is
    not adapted in the loop): ``(K, H)`` per batch, or ``(C, K, H)``."""
    trajectory_dim = 1 if _is_chain_batched(batches[0]) else 0
    states = torch.cat([batch.states for batch in batches], trajectory_dim)
    # (the tests' tabular meta-agents have values(states) only)
    all_values = agent.values(states) if params is None else agent.values(states, params.value)
    size = batches[0].states.shape[trajectory_dim]
    return list(all_values.split(size, trajectory_dim))


def _floats(metrics: dict[str, torch.Tensor]) -> dict[str, float] | list[dict[str, float]]:
    """Scalar metrics as floats; ``(C,)`` ones as one dict of floats per chain."""
    if next(iter(metrics.values())).dim() == 0:
        return {key: float(value) for key, value in metrics.items()}
    rows = torch.stack(list(metrics.values()), 1).tolist()  # (C, number of metrics)
    return [dict(zip(metrics, row, strict=True)) for row in rows]


def reinforce_surrogate(
    log_probs, batch: TrajectoryBatch, values: torch.Tensor, settings: ReplaySettings
) -> torch.Tensor:
    """REINFORCE baseline (paper 001, Section 5): a policy gradient on the meta-agent's own
    first trajectories, as if its and its peers' policies stayed fixed in the future."""
    advantages = generalized_advantages(
        batch.rewards[0], values.detach(), settings.gamma, settings.gae_lambda
    )
    return (log_probs.agent * advantages).sum(-1).mean(-1)


def lola_surrogate(
    agent: MetaAgent,
    peers: list[torch.Tensor],
    batch: TrajectoryBatch,
    values: torch.Tensor,
    settings: ReplaySettings,
    agent_params: AgentParams | None = None,
) -> torch.Tensor:
    """LOLA-DiCE baseline (Foerster et al. 2018c; paper 001 Section 5): the meta-agent's DiCE
    objective on its first trajectories after ``lookahead`` look-ahead updates of the peers,
    with the learned value network as DiCE baseline. It models how it shapes its peers'
    learning, not its own learning."""
    params = (agent_params if agent_params is not None else _own_params(agent)).policy
    inner = settings.inner_loop(agent)
    ahead = lookahead_peers(inner, params, peers, batch, max(1, settings.lookahead))
    log_probs = inner.log_probs(params, ahead, batch)
    return dice_objective(log_probs.joint, batch.rewards[0], settings.gamma, values.detach())
