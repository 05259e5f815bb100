"""Sampling a Markov chain of joint policies (Algorithm 1 lines 5-8; Algorithm 2).

A chain step's K trajectories are one batch of the batched matrix-game core: every time step
is one LSTM step for all K trajectories and one tensor step of the K games, never K Python
loops. The inner updates between batches are :func:`chain.unroll_chain` without second-order
graph: the very function the Learner replays with ``create_graph=True``. The forward pass that
draws the meta-agent's actions also gives its inner update the log-probabilities (one LSTM
pass per batch, not two).

:func:`play_chain` is the environment-free part (sample, both inner steps, repeat; a last
batch under ``phi_L``); :func:`sample_chain` plays it on the matrix games,
``cheetah.sample_cheetah_chain`` on 2-agent HalfCheetah.

:func:`sample_chains` plays C chains of the matrix games at once (issue 16): the C x K games
are one batch of the batched core, the meta-agent's C parameter copies one chain-batched LSTM
step per time step, the inner updates one ``autograd.grad`` per agent for all chains; the same
joint policies and the same kind of draws as C calls of :func:`sample_chain`, but not the same
draws (one random stream serves the C x K games in another order).
"""

import dataclasses
from collections.abc import Callable, Sequence

import torch

from envs.matrix.batched import BatchedIteratedMatrixGame
from rllib_meta.algorithms.meta_mapg.chain import (
    NO_GRAPH,
    PlayerParams,
    StepResult,
    fresh_leaves,
    unroll_chain,
)
from rllib_meta.algorithms.meta_mapg.distributions import Categorical
from rllib_meta.algorithms.meta_mapg.networks import gather_rows
from rllib_meta.algorithms.meta_mapg.objectives import (
    InnerLoop,
    TrajectoryBatch,
    chain_step_objectives,
)


def _sample_categorical(probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One draw per row of ``probs`` (..., A) by inverting the CDF: a single tensor op."""
    uniform = torch.rand((*probs.shape[:-1], 1), generator=generator, dtype=probs.dtype)
    cdf = probs.cumsum(-1)
    return (cdf < uniform).sum(-1).clamp_(max=probs.shape[-1] - 1)


def sample_trajectories(
    policy: torch.nn.Module,
    peer_logits: list[torch.Tensor],
    game: BatchedIteratedMatrixGame,
    generator: torch.Generator,
    params: dict[str, torch.Tensor] | None = None,
) -> tuple[TrajectoryBatch, torch.Tensor]:
    """K = ``game.batch_size`` trajectories of the meta-agent (player 0, ``policy`` with a
    ``stepper``, with its own parameters or ``params``) against tabular peers (players
    1..n-1), and the meta-agent's logits ``(K, H, A)`` at every step.

    Chain-batched: ``params`` and ``peer_logits`` with a leading chain dimension C, and a
    ``game`` of C x K games (chain ``c`` plays games ``c K .. (c + 1) K - 1``); the batch then
    has the chain-batched layout of :class:`TrajectoryBatch` and the logits are ``(C, K, H, A)``.

    The logits keep their graph to ``params`` when those require gradients: the inner update
    that follows needs exactly these log-probabilities, and recomputing them would repeat the
    whole forward pass.
    """
    chains = tuple(peer_logits[0].shape[:-2])  # () for one chain, (C,) chain-batched
    trajectories = (*chains, game.batch_size // (chains[0] if chains else 1))
    observed = game.reset()
    step_policy = policy.stepper(params)
    lstm_state = policy.initial_state(trajectories)
    with torch.no_grad():
        peer_probs = [torch.softmax(logits, -1) for logits in peer_logits]
    states, actions, rewards, agent_outputs = [], [], [], []
    for _ in range(game.horizon):
        # canonical joint state, as every player sees it: (K,) or (C, K)
        state = observed[:, 0].reshape(trajectories)
        logits, lstm_state = step_policy(state, lstm_state)
        with torch.no_grad():
            probs = torch.stack(
                [torch.softmax(logits, -1), *(gather_rows(p, state) for p in peer_probs)]
            )
            joint_action = _sample_categorical(probs, generator)  # (n, K) or (n, C, K)
            flat_actions = joint_action.reshape(len(probs), -1).t().contiguous()
            observed, reward, _ = game.step(flat_actions)
        states.append(state)
        actions.append(joint_action)
        rewards.append(reward.t().reshape(joint_action.shape))
        agent_outputs.append(logits)
    batch = TrajectoryBatch(
        states=torch.stack(states, -1),
        actions=torch.stack(actions, -1),
        rewards=torch.stack(rewards, -1),
    )
    return batch, torch.stack(agent_outputs, -2)


@dataclasses.dataclass
class ChainSample:
    """A sampled chain: the batches ``tau_0..tau_L`` and the joint policies that drew them."""

    batches: list[TrajectoryBatch]
    agent_params: list[dict[str, torch.Tensor]]  # phi^i_0..phi^i_L (detached)
    peer_params: list[list[PlayerParams]]  # phi^{-i}_0..phi^{-i}_L (detached)

    @property
    def peer_logits(self) -> list[list[PlayerParams]]:
        """``peer_params`` under the matrix games' name (tabular peers are logits)."""
        return self.peer_params


def _detached(params: PlayerParams) -> PlayerParams:
    if isinstance(params, torch.Tensor):
        return params.detach()
    return {name: value.detach() for name, value in params.items()}


# sample_batch(agent_params, peer_params) -> (batch, the meta-agent's outputs on it)
SampleBatch = Callable[
    [dict[str, torch.Tensor], Sequence[PlayerParams]], tuple[TrajectoryBatch, torch.Tensor]
]


def play_chain(
    agent,
    peer_params: Sequence[PlayerParams],
    sample_batch: SampleBatch,
    inner: InnerLoop,
    chain_length: int,
    peer_learning_rate: float,
    agent_params: dict[str, torch.Tensor] | None = None,
) -> ChainSample:
    """Play one chain on any environment: ``sample_batch`` draws a chain step's K
    trajectories under the current joint policy, both agents take their inner step on them
    (:func:`chain.unroll_chain` without graph), and a last batch is drawn under ``phi_L``.
    ``agent_params``: the meta-agent's ``phi_0`` (default its own parameters; chain-batched
    copies with chain-batched peers and ``sample_batch`` play C chains at once)."""
    batches: list[TrajectoryBatch] = []

    def step_objectives(step, agent_params, peers):
        batch, agent_outputs = sample_batch(agent_params, list(peers))
        batches.append(batch)
        agent_objective, peer_objectives, _ = chain_step_objectives(
            inner, agent_params, list(peers), batch, agent_outputs
        )
        return StepResult(agent_objective, peer_objectives)

    unrolled = unroll_chain(
        fresh_leaves(agent.policy_params() if agent_params is None else agent_params),
        [fresh_leaves(params) for params in peer_params],
        step_objectives,
        agent.inner_learning_rates.detach(),
        peer_learning_rate,
        chain_length,
        NO_GRAPH,
    )
    with torch.no_grad():
        last, _ = sample_batch(unrolled.agent_params[-1], unrolled.peer_params[-1])
    batches.append(last)
    return ChainSample(
        batches=batches,
        agent_params=[{n: p.detach() for n, p in step.items()} for step in unrolled.agent_params],
        peer_params=[[_detached(p) for p in step] for step in unrolled.peer_params],
    )


def _check_discrete_policy(agent) -> None:
    if not isinstance(agent.policy.distribution, Categorical):
        raise ValueError(
            "the matrix games need a policy over discrete actions (Categorical), got "
            f"{type(agent.policy.distribution).__name__}"
        )


def sample_chain(
    agent,
    peer_logits: list[torch.Tensor],
    game: BatchedIteratedMatrixGame,
    chain_length: int,
    gamma: float,
    peer_learning_rate: float,
    generator: torch.Generator,
    lookahead: int = 0,
) -> ChainSample:
    """Play one chain ``tau_0..tau_L`` from the agent's ``phi_0`` and the peers' personas
    (``lookahead > 0``: the meta-agent adapts with LOLA-DiCE steps)."""
    _check_discrete_policy(agent)
    inner = InnerLoop(agent.policy, agent.num_states, gamma, peer_learning_rate, lookahead)

    def sample_batch(agent_params, peers):
        return sample_trajectories(agent.policy, list(peers), game, generator, agent_params)

    return play_chain(agent, peer_logits, sample_batch, inner, chain_length, peer_learning_rate)


def sample_chains(
    agent,
    chains_peer_logits: list[list[torch.Tensor]],
    game: BatchedIteratedMatrixGame,
    chain_length: int,
    gamma: float,
    peer_learning_rate: float,
    generator: torch.Generator,
    lookahead: int = 0,
) -> list[ChainSample]:
    """C chains at once (see the module docstring): chain ``c`` against the peers
    ``chains_peer_logits[c]``, on ``game`` of C x K games; one :class:`ChainSample` per chain,
    as :func:`sample_chain` returns it."""
    count = len(chains_peer_logits)
    if game.batch_size % count:
        raise ValueError(
            f"a game batch of {game.batch_size} cannot hold {count} chains of equal size"
        )
    peers = [torch.stack(list(peer)) for peer in zip(*chains_peer_logits, strict=True)]
    copies = {
        n: p.detach().expand(count, *p.shape).contiguous() for n, p in agent.policy_params().items()
    }
    inner = InnerLoop(agent.policy, agent.num_states, gamma, peer_learning_rate, lookahead)

    def sample_batch(agent_params, peer_params):
        return sample_trajectories(agent.policy, list(peer_params), game, generator, agent_params)

    _check_discrete_policy(agent)
    batched = play_chain(
        agent, peers, sample_batch, inner, chain_length, peer_learning_rate, copies
    )
    return [_one_chain(batched, index) for index in range(count)]


def _one_chain(batched: ChainSample, index: int) -> ChainSample:
    """Chain ``index`` of a chain-batched :class:`ChainSample`."""
    return ChainSample(
        batches=[
            TrajectoryBatch(b.states[index], b.actions[:, index], b.rewards[:, index])
            for b in batched.batches
        ],
        agent_params=[{n: p[index] for n, p in step.items()} for step in batched.agent_params],
        peer_params=[[p[index] for p in step] for step in batched.peer_params],
    )
