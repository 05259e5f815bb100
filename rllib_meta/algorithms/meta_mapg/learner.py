"""``MetaMAPGLearner``: the meta-gradient step (Algorithm 1, line 10) on RLlib's TorchLearner.

RLlib 2.60's ``TorchDifferentiableLearner`` maps gradients to the wrong module when several
modules are updated and crashes on parameters the inner loss does not use; here the inner
loop is the functional replay of ``meta_gradient.py`` (both agents' updates inside one
module's graph, unused parameters given zero gradients), and only RLlib's optimizer
registration, state and checkpointing are reused.

Per update: replay every chain of the meta-batch (all of this Learner's chains as one
chain-batched computation, ``meta_gradient.py``), take each chain's actor gradient, combine
them with PCGrad (Yu et al. 2020; paper App. C.2: conflicting gradients between peers of
different personas), clip each optimizer's gradient as RLlib would (``grad_clip``, by global
norm by default: the paper's 10) and step AMSGrad for the actor (policy and inner learning
rates) and the critic.
"""

import dataclasses
from typing import Any

import numpy as np
import torch
from ray.rllib.core import DEFAULT_MODULE_ID

from rllib_meta.algorithms.base.learner import FunctionalLearner, global_norm
from rllib_meta.algorithms.meta_mapg.agent import MetaAgent
from rllib_meta.algorithms.meta_mapg.chain import LearningTerms
from rllib_meta.algorithms.meta_mapg.env_runner import (
    batches_from_record,
    batches_from_records,
    chain_peers,
    chains_peers,
)
from rllib_meta.algorithms.meta_mapg.meta_gradient import ReplaySettings, replay_chain
from rllib_meta.core.pcgrad import flatten_gradients, pcgrad, unflatten_like

ACTOR, CRITIC = "actor", "critic"


class MetaMAPGLearner(FunctionalLearner):
    UPDATE_METHODS = "update_from_chains()"
    LEARNS_FROM = "whole chains"

    @property
    def agent(self) -> MetaAgent:
        return self.rl_module.agent

    def actor_parameters(self) -> list[torch.nn.Parameter]:
        agent = self.agent
        learned_rates = (
            [agent.inner_learning_rates] if self.config.learn_inner_learning_rates else []
        )
        return [*agent.policy.parameters(), *learned_rates]

    def critic_parameters(self) -> list[torch.nn.Parameter]:
        return list(self.agent.value.parameters())

    def configure_optimizers_for_module(self, module_id, config=None) -> None:
        for name, params, lr in (
            (ACTOR, self.actor_parameters(), config.actor_lr),
            (CRITIC, self.critic_parameters(), config.critic_lr),
        ):
            self.register_torch_optimizer(
                module_id, name, params, lr, eps=config.adam_eps, amsgrad=True
            )

    def replay_settings(self) -> ReplaySettings:
        config = self.config
        return ReplaySettings(
            gamma=config.gamma,
            gae_lambda=config.gae_lambda,
            peer_learning_rate=config.peer_learning_rate,
            terms=LearningTerms(config.own_learning, config.peer_learning),
            outer_estimator=config.outer_estimator,
            entropy_coeff=config.entropy_coeff,
            meta_gradient=config.meta_gradient,
            opponent_modeling=config.opponent_modeling,
            lookahead=config.lookahead,
        )

    def update_from_chains(self, records: list[dict[str, Any]]) -> dict[str, float]:
        """One meta-gradient step on a meta-batch of sampled chains; returns metrics.

        With several Learners (torch.distributed), each replays its share of the chains
        (``records[rank::world_size]``), the per-chain gradients are gathered in the original
        chain order, and every Learner applies the same PCGrad combination, so their
        parameters stay identical.
        """
        rank, world_size = _rank_and_world_size()
        actor_params, critic_params = self.actor_parameters(), self.critic_parameters()
        mine = list(range(rank, len(records), world_size))
        actor, critic, metrics = self._chain_gradients([records[i] for i in mine])
        if world_size > 1:
            actor, critic, metrics = _gather_in_order(mine, actor, critic, metrics, len(records))
        generator = torch.Generator().manual_seed((self.config.seed or 0) + self._steps_taken())
        combined = pcgrad(actor, generator) if self.config.use_pcgrad else actor.sum(0)
        gradients = {}
        for params, vector in (
            (actor_params, combined / len(records)),
            (critic_params, critic.mean(0)),
        ):
            gradients.update(zip(params, unflatten_like(vector, params), strict=True))
        applied = self.apply_parameter_gradients(gradients)  # clipped per optimizer
        summary = {key: float(np.mean([m[key] for m in metrics])) for key in metrics[0]}
        summary["actor_grad_norm"] = float(combined.norm() / len(records))
        summary["critic_grad_norm"] = global_norm(applied[p] for p in critic_params)
        summary["inner_learning_rates"] = self.agent.inner_learning_rates.detach().tolist()
        return summary

    def _steps_taken(self) -> int:
        """Meta-gradient steps so far, read from the actor optimizer's (checkpointed) state;
        it seeds PCGrad's projection order, identically on every Learner."""
        optimizer = self.get_optimizer(DEFAULT_MODULE_ID, ACTOR)
        state = optimizer.state.get(self.actor_parameters()[0], {})
        return int(state.get("step", 0))

    def _chain_gradients(self, records: list[dict[str, Any]]):
        """Per-chain flattened actor and critic gradients (N, P) and metrics."""
        learn_rates = self.config.learn_inner_learning_rates
        return batched_chain_gradients(self.agent, records, self.replay_settings(), learn_rates)


def per_chain_gradients(
    agent: MetaAgent, records: list[dict[str, Any]], settings: ReplaySettings, learn_rates: bool
) -> tuple[torch.Tensor, torch.Tensor, list[dict[str, float]]]:
    """Per-chain flattened actor and critic gradients ``(N, P)`` and metrics, replaying the
    chains one after another (the reference :func:`batched_chain_gradients` is checked
    against, and the benchmark's one-chain-at-a-time path)."""
    actor_params = [*agent.policy.parameters(), *([agent.inner_learning_rates] * learn_rates)]
    critic_params = list(agent.value.parameters())
    actor_grads, critic_grads, metrics = [], [], []
    for record in records:
        peers, peer_policy = chain_peers(record)
        record_settings = dataclasses.replace(settings, peer_policy=peer_policy)
        losses = replay_chain(agent, batches_from_record(record), peers, record_settings)
        grads = torch.autograd.grad(losses.actor_loss, actor_params, allow_unused=True)
        actor_grads.append(flatten_gradients(grads, actor_params))
        grads = torch.autograd.grad(losses.value_loss, critic_params, allow_unused=True)
        critic_grads.append(flatten_gradients(grads, critic_params))
        metrics.append(losses.metrics)
    return torch.stack(actor_grads), torch.stack(critic_grads), metrics


def batched_chain_gradients(
    agent: MetaAgent, records: list[dict[str, Any]], settings: ReplaySettings, learn_rates: bool
) -> tuple[torch.Tensor, torch.Tensor, list[dict[str, float]]]:
    """:func:`per_chain_gradients` as one chain-batched replay: every chain starts from its
    own copy of ``phi_0`` (a ``(C, ...)`` leaf), one backward pass of the sum of the chains'
    losses, and row ``c`` of each copy's gradient is chain ``c``'s gradient."""
    peers, peer_policy = chains_peers(records)
    settings = dataclasses.replace(settings, peer_policy=peer_policy)
    params = agent.chain_copies(len(records), learn_rates)
    losses = replay_chain(agent, batches_from_records(records), peers, settings, params)
    actor = [*params.policy.values(), *([params.inner_learning_rates] * learn_rates)]
    critic = list(params.value.values())
    # The actor loss does not depend on the critic (detached values) nor the value loss on
    # the policy: one backward pass of their sum gives both gradients.
    total = (losses.actor_loss + losses.value_loss).sum()
    grads = torch.autograd.grad(total, actor + critic, allow_unused=True)
    return (
        _rows(grads[: len(actor)], actor),
        _rows(grads[len(actor) :], critic),
        losses.metrics,
    )


def _rows(grads, leaves: list[torch.Tensor]) -> torch.Tensor:
    """Chain-batched gradients ``(C, ...)`` flattened per chain: ``(C, P)``, in the order of
    :func:`~rllib_meta.core.pcgrad.flatten_gradients` (unused: zeros)."""
    return torch.cat(
        [
            (torch.zeros_like(leaf) if grad is None else grad).reshape(len(leaf), -1)
            for grad, leaf in zip(grads, leaves, strict=True)
        ],
        1,
    )


def _rank_and_world_size() -> tuple[int, int]:
    distributed = torch.distributed
    if distributed.is_available() and distributed.is_initialized():
        return distributed.get_rank(), distributed.get_world_size()
    return 0, 1


def _gather_in_order(indices, actor, critic, metrics, total):
    """All-gather every Learner's per-chain results and put them back in chain order."""
    gathered = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(gathered, (indices, actor, critic, metrics))
    order = [None] * total
    for chain_indices, actors, critics, chain_metrics in gathered:
        for position, index in enumerate(chain_indices):
            order[index] = (actors[position], critics[position], chain_metrics[position])
    actors, critics, all_metrics = zip(*order, strict=True)
    return torch.stack(actors), torch.stack(critics), list(all_metrics)
