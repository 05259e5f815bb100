"""The Markov chain of joint policies (paper 001, Section 2 and Eq. 4).

``phi_0 -> phi_1 -> ... -> phi_L``: after each batch of K trajectories, every agent takes one
policy-gradient step (the inner loop, Eq. 4). :func:`unroll_chain` performs these updates
functionally (parameters are dicts and tensors, never modules), so the same function serves

- sampling on an EnvRunner: objectives computed on freshly sampled data, no graph kept;
- replay on the Learner: objectives recomputed from the stored trajectories with
  ``create_graph=True``, so the outer gradient flows through both agents' updates: the
  own-learning and peer-learning terms of Meta-MAPG (Eq. 6).

Which dependencies on ``phi_0`` survive is what distinguishes the algorithms:
``own_learning=False`` cuts the meta-agent's adapted parameters loose from ``phi_0`` (the
paper's "no own learning" ablation), ``peer_learning=False`` cuts the peers' (Meta-PG, which
treats peers as an external factor, App. D.1).

Chain-batched: parameters with a leading chain dimension ``(C, ...)`` and objectives ``(C,)``
unroll C independent chains at once. Since chain ``c``'s objective depends on row ``c`` of the
parameters only, one ``autograd.grad`` of the objectives' sum gives every chain its own
gradient (row ``c``), and a per-chain learning rate ``(C,)`` scales its own rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # objectives.py builds on this module
    from rllib_meta.algorithms.meta_mapg.objectives import StepLogProbs

Params = dict[str, torch.Tensor]
PlayerParams = torch.Tensor | Params  # a tabular peer's logits, or a network's parameters


@dataclasses.dataclass(frozen=True)
class LearningTerms:
    """Which paths from ``phi_0`` to the future joint policies the outer gradient follows."""

    own_learning: bool = True
    peer_learning: bool = True

    @property
    def any(self) -> bool:
        return self.own_learning or self.peer_learning


NO_GRAPH = LearningTerms(own_learning=False, peer_learning=False)


@dataclasses.dataclass
class StepResult:
    """What one chain step's objectives give the unrolling.

    ``log_probs`` are the step's joint log-probabilities, kept for the outer loss (None where
    no outer loss follows, as when sampling). ``peer_starts`` are the parameters each peer's
    update starts from: the peers' current parameters (default), or with opponent modeling
    (paper App. B, Algorithm 3 line 8) the ones re-inferred from their actions in this step's
    trajectories.
    """

    agent_objective: torch.Tensor
    peer_objectives: list[torch.Tensor]
    log_probs: StepLogProbs | None = None
    peer_starts: list[PlayerParams] | None = None


# step_objectives(l, agent_params_l, peer_params_l) -> StepResult
StepObjectives = Callable[[int, Params, Sequence[PlayerParams]], StepResult]


@dataclasses.dataclass
class UnrolledChain:
    """The joint policies ``phi_0..phi_L`` and each step's kept log-probabilities."""

    agent_params: list[Params]
    peer_params: list[list[PlayerParams]]
    step_log_probs: list[StepLogProbs | None]


def _leaf(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.detach().requires_grad_(True)


def fresh_leaves(params: PlayerParams) -> PlayerParams:
    """Copies of ``params`` that start a new graph (the chain's ``phi_0``)."""
    if isinstance(params, torch.Tensor):
        return params.detach().clone().requires_grad_(True)
    return {name: fresh_leaves(value) for name, value in params.items()}


def _gradient(
    objective: torch.Tensor, inputs: Sequence[torch.Tensor], create_graph: bool
) -> list[torch.Tensor]:
    """d objective / d inputs; inputs the objective does not use get a zero gradient (an
    LSTM bias unused by a loss must not crash the update, unlike RLlib 2.60's
    TorchDifferentiableLearner). The graph is retained: all agents' objectives share the
    joint log-probabilities."""
    grads = torch.autograd.grad(
        objective, list(inputs), create_graph=create_graph, retain_graph=True, allow_unused=True
    )
    return [torch.zeros_like(x) if g is None else g for x, g in zip(inputs, grads, strict=True)]


def _scaled(learning_rate: torch.Tensor | float, gradient: torch.Tensor) -> torch.Tensor:
    """``learning_rate * gradient``; a per-chain rate ``(C,)`` scales row ``c`` of a
    chain-batched gradient ``(C, ...)``."""
    if isinstance(learning_rate, torch.Tensor) and learning_rate.dim() == 1:
        learning_rate = learning_rate.reshape(-1, *[1] * (gradient.dim() - 1))
    return learning_rate * gradient


def inner_update(
    params: PlayerParams,
    objective: torch.Tensor,
    learning_rate: torch.Tensor | float,
    keep_graph: bool,
) -> PlayerParams:
    """Eq. 4 for one agent: ``phi' = phi + alpha * grad objective``, its own objective only.
    ``params``: a tensor (the tabular peers) or a dict of tensors (networks); chain-batched
    ``(C, ...)`` with objectives and (optionally) learning rates ``(C,)``: each chain's update
    uses its own objective's gradient, the rows of the gradient of their sum."""
    if isinstance(params, torch.Tensor):
        return inner_update({"": params}, objective, learning_rate, keep_graph)[""]
    names = list(params)
    total = objective.sum() if objective.dim() else objective  # chains are independent
    grads = _gradient(total, [params[n] for n in names], create_graph=keep_graph)
    updated = {n: params[n] + _scaled(learning_rate, g) for n, g in zip(names, grads, strict=True)}
    return updated if keep_graph else {n: _leaf(v) for n, v in updated.items()}


def unroll_chain(
    agent_params: Params,
    peer_params: Sequence[PlayerParams],
    step_objectives: StepObjectives,
    agent_learning_rates: torch.Tensor,
    peer_learning_rate: float,
    chain_length: int,
    terms: LearningTerms,
) -> UnrolledChain:
    """Run the inner loop for ``chain_length`` joint updates (Eq. 4, Algorithm 1 lines 5-8).

    ``agent_learning_rates[..., l]`` is the meta-agent's (learned) step size at chain step
    ``l`` (``(L,)``, or ``(C, L)``: per-chain copies, so that each chain's meta-gradient w.r.t.
    them comes out on its own row). Each peer is updated with the gradient of its own
    objective alone. The objectives of the
    final policies ``phi_L`` are not computed here: the caller evaluates them as it needs.
    """
    agents = [agent_params]
    peers = [list(peer_params)]
    outputs = []
    for step in range(chain_length):
        result = step_objectives(step, agents[-1], peers[-1])
        outputs.append(result.log_probs)
        next_agent = inner_update(
            agents[-1], result.agent_objective, agent_learning_rates[..., step], terms.own_learning
        )
        starts = peers[-1] if result.peer_starts is None else result.peer_starts
        next_peers = [
            inner_update(params, objective, peer_learning_rate, terms.peer_learning)
            for params, objective in zip(starts, result.peer_objectives, strict=True)
        ]
        agents.append(next_agent)
        peers.append(next_peers)
    return UnrolledChain(agent_params=agents, peer_params=peers, step_log_probs=outputs)
