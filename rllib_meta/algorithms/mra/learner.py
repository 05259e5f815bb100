"""``MRALearner``: MRA's updates (paper 002, Algorithm 4, the "if T_update ..." block) on
RLlib's TorchLearner, every step through ``apply_parameter_gradients`` so ``grad_clip``
applies.

Per training MG ``m``, in order, ``updates_per_iteration`` times per iteration:

1. ``theta_0 <- theta`` (the policies of every role);
2. ``K`` times, on a fresh minibatch of ``D_m`` each (Eq. 6's ``L_m^k`` is the ``k``-th
   minibatch's loss; Algorithm 4 draws one minibatch for all ``K`` steps): one critic step
   on Eq. 8 (soft target, temperature ``1 / reward_scale``) and one policy step on Eq. 9
   (advantage form, the expectation over the own action summed exactly);
3. Reptile (Eq. 6): ``theta <- theta_0 + alpha (theta_K - theta_0)`` (``reptile: false``
   keeps ``theta_K``, i.e. ``alpha = 1``);
4. ``mutual_information``: one step of ``phi`` on Eq. 11's contrastive bound with ``n``
   resampled latents (expectation over ``a ~ pi_theta`` summed exactly; skipped for
   ``latent: none``, whose ``g`` carries no latent), and one step of ``psi`` and ``xi`` on
   Eq. 13's cross-entropy (the classifier alone learns for ``latent: uniform | none``);
5. Polyak update of ``theta_bar`` and ``zeta_bar``.

The graph ``g = phi(o, z)`` of the critic and policy steps is recomputed from the stored
``z`` with the current ``phi`` and detached (Algorithm 4 stores ``g`` itself; with ``phi``
moving under Eq. 11, the recomputed graph is the one the current agents act with); ``g'`` at
the next observation is ``phi(o', z)`` (Algorithm 4 reuses ``g`` there). The other agents'
next actions are drawn from their target policies, their current actions (for Eq. 9's
critic) from their current policies, as in MAAC. Rewards are used as the env gives them.
Agents out of the game (a caught Pac-Man) are masked out of every loss.

``actor_critic: maddpg`` is the paper's MADDPG baseline with the relational critic (section
7.1): the same attention critic and graph, MADDPG's target ``r + gamma Q_bar(o', a')`` and
actor loss ``-Q(o, a(pi), g)`` (:meth:`MRALearner.maddpg_policy_step`) instead of the soft
ones; combine it with ``latent: none``, ``reptile: false``, ``mutual_information: false``
(tuned_examples/mra_resource_occupation_baselines.yaml).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from ray.rllib.core import (
    COMPONENT_LEARNER,
    COMPONENT_LEARNER_GROUP,
    COMPONENT_RL_MODULE,
    DEFAULT_MODULE_ID,
)
from ray.rllib.core.rl_module.rl_module import RLModule

from rllib_meta.algorithms.base.learner import FunctionalLearner, unwrap
from rllib_meta.algorithms.mra import losses
from rllib_meta.algorithms.mra.attention import ACTIVE, gather_others
from rllib_meta.algorithms.mra.env_runner import role_slices
from rllib_meta.algorithms.mra.latent import gumbel_softmax_hard
from rllib_meta.algorithms.mra.networks import MRANetworks
from rllib_meta.algorithms.mra.populations import (
    STATE_KEYS,
    Game,
    observe_states,
    padding,
    training_games,
)
from rllib_meta.algorithms.mra.replay import ReplayBuffer
from rllib_meta.core.reptile import reptile_update_, snapshot
from rllib_meta.evaluation.checkpoints import find_checkpoint

REPLAY_STATE = "mra_replay"
# Agents (rows x agents) per chunk of the critic and policy steps: their per-pair tensors
# (agents x K x hidden) then stay within a core's cache, where the whole minibatch's (1024 x
# 12 x 11 x 64 float32: 35 MB, several of them, forward and backward) does not.
CHUNK_AGENTS = 1024
MADDPG_LOGIT_PENALTY = 1e-3  # MADDPG's regulariser of the actor's logits
GROUPS = ("policy", "critic", "relation", "prior", "classifier")
Gradients = dict[torch.nn.Parameter, torch.Tensor]


@dataclass
class Minibatch:
    """One MG's transitions as tensors ``(B, N, ...)`` (``obs``, ``next_obs`` dicts) with the
    detached graphs of every role at ``o`` and ``o'``."""

    game: Game
    obs: dict[str, torch.Tensor]
    next_obs: dict[str, torch.Tensor]
    actions: torch.Tensor
    rewards: torch.Tensor
    terminated: torch.Tensor
    z: torch.Tensor | None
    mask: torch.Tensor
    graphs: list[torch.Tensor]
    next_graphs: list[torch.Tensor]

    def rows(self, rows: slice) -> Minibatch:
        """The transitions ``rows`` of this minibatch (views, no copies)."""
        return Minibatch(
            game=self.game,
            obs={key: value[rows] for key, value in self.obs.items()},
            next_obs={key: value[rows] for key, value in self.next_obs.items()},
            actions=self.actions[rows],
            rewards=self.rewards[rows],
            terminated=self.terminated[rows],
            z=None if self.z is None else self.z[rows],
            mask=self.mask[rows],
            graphs=[graph[rows] for graph in self.graphs],
            next_graphs=[graph[rows] for graph in self.next_graphs],
        )

    def chunks(self, agents_per_chunk: int) -> list[slice]:
        """Consecutive row ranges of about ``agents_per_chunk`` agents (whole transitions)."""
        return row_chunks(self.actions.shape, agents_per_chunk)


def row_chunks(shape: tuple[int, ...], agents_per_chunk: int) -> list[slice]:
    """Row ranges of about ``agents_per_chunk`` agents over transitions of ``shape``
    ``(rows, agents, ...)`` (whole transitions, at least one per range)."""
    count, agents = shape[0], shape[1]
    size = max(1, agents_per_chunk // agents)
    return [slice(start, min(start + size, count)) for start in range(0, count, size)]


def _view(tensors: dict[str, torch.Tensor], agents: slice) -> dict[str, torch.Tensor]:
    return {key: value[:, agents] for key, value in tensors.items()}


def maddpg_q_target(
    rewards: torch.Tensor, terminated: torch.Tensor, next_q: torch.Tensor, gamma: float
) -> torch.Tensor:
    """MADDPG's critic target (Lowe et al. 2017; paper 002's Eq. 8 without entropy):
    ``y = r + gamma (1 - done) Q_bar(o', a')`` with ``a'`` from the target policies."""
    return (rewards + gamma * (1.0 - terminated.to(next_q.dtype)) * next_q).detach()


def _draw(logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    probs = torch.softmax(logits, -1).flatten(0, -2)
    return torch.multinomial(probs, 1, generator=generator).view(logits.shape[:-1])


class MRALearner(FunctionalLearner):
    UPDATE_METHODS = "update_from_transitions()"
    LEARNS_FROM = "the replayed transitions of every training MG"

    def build(self) -> None:
        super().build()
        config = self.config
        self.games = training_games(config.env, config.env_config, config.training_populations)
        self.padding = padding(self.games)
        self.num_slots = self.padding["max_agents"] - 1
        self.buffers = [ReplayBuffer(config.replay_buffer_size) for _ in self.games]
        seed = 0 if config.seed is None else int(config.seed)
        self.generator = torch.Generator().manual_seed(seed)  # minibatches, action draws, z'
        self.chunk_agents = CHUNK_AGENTS

    @property
    def roles(self) -> dict[str, MRANetworks]:
        return dict(self.rl_module.roles)

    def configure_optimizers_for_module(self, module_id, config=None) -> None:
        module = unwrap(self.module[module_id])
        rates = {
            "policy": config.lr,
            "critic": config.critic_lr,
            "relation": config.relation_lr,
            "prior": config.prior_lr,
            "classifier": config.prior_lr,
        }
        for role, nets in module.roles.items():
            for group, params in nets.parameter_groups().items():
                if not params:
                    continue  # psi exists for latent: learned only
                self.register_torch_optimizer(module_id, f"{role}_{group}", params, rates[group])

    def group_params(self, group: str) -> list[torch.nn.Parameter]:
        return [p for nets in self.roles.values() for p in nets.parameter_groups()[group]]

    # -- the update ------------------------------------------------------------------------

    def update_from_transitions(self, transitions: list[dict[str, np.ndarray]]) -> dict[str, Any]:
        """Add each MG's new transitions to its own buffer, then the updates of the module
        docstring for every MG whose buffer holds ``learning_starts`` transitions (and one
        minibatch). Returns, per MG label, that MG's last losses (empty before updates)."""
        for buffer, batch in zip(self.buffers, transitions, strict=True):
            buffer.add(batch)
        config = self.config
        ready = max(config.learning_starts, 1)
        results: dict[str, dict[str, float]] = {game.label: {} for game in self.games}
        for _ in range(config.updates_per_iteration):
            for game, buffer in zip(self.games, self.buffers, strict=True):
                if len(buffer) >= ready:
                    results[game.label] = self.update_game(game)
        return results

    def update_game(self, game: Game) -> dict[str, float]:
        """Steps 1-5 of the module docstring on MG ``game``."""
        config = self.config
        policy = self.group_params("policy")
        initial = snapshot(policy) if config.reptile else None
        for _ in range(config.inner_steps):
            batch = self.minibatch(game)
            metrics = {"critic_loss": self.critic_step(batch)}
            metrics["policy_loss"] = self.policy_step(batch)
        if initial is not None:
            reptile_update_(policy, initial, config.reptile_step_size)
        if config.mutual_information:
            if config.latent != "none":
                metrics["action_mi_bound"] = self.relation_step(batch)
            metrics["game_mi"] = self.classifier_step(batch)
        for nets in self.roles.values():
            nets.update_targets(config.tau)
        metrics["replay_size"] = float(len(self.buffers[game.index]))
        return metrics

    def minibatch(self, game: Game) -> Minibatch:
        """``replay_batch_size`` transitions of ``game``, observed as the EnvRunner saw them,
        with the detached graphs of every role."""
        rows = self.buffers[game.index].sample(self.config.replay_batch_size, self.generator)
        obs, next_obs = (
            {
                key: torch.from_numpy(value)
                for key, value in observe_states(
                    game, **self.padding, states={k: rows[prefix + k] for k in STATE_KEYS}
                ).items()
            }
            for prefix in ("", "next_")
        )
        z = torch.from_numpy(rows["z"]) if "z" in rows else None
        graphs, next_graphs = [], []
        chunks = row_chunks(rows["actions"].shape, self.chunk_agents)
        with torch.no_grad():  # chunk by chunk, as the steps (CHUNK_AGENTS)
            for nets, agents in self._roles_of(game):
                for observed, out in ((obs, graphs), (next_obs, next_graphs)):
                    out.append(
                        torch.cat(
                            [
                                nets.relation(
                                    _view({k: v[c] for k, v in observed.items()}, agents),
                                    None if z is None else z[c, agents],
                                )
                                for c in chunks
                            ]
                        )
                    )
        return Minibatch(
            game=game,
            obs=obs,
            next_obs=next_obs,
            actions=torch.from_numpy(rows["actions"]).long(),
            rewards=torch.from_numpy(rows["rewards"]),
            terminated=torch.from_numpy(rows["terminated"]),
            z=z,
            mask=obs["self"][..., ACTIVE] > 0,
            graphs=graphs,
            next_graphs=next_graphs,
        )

    def _roles_of(self, game: Game) -> Iterator[tuple[MRANetworks, slice]]:
        return zip(self.roles.values(), role_slices(game), strict=True)

    @property
    def alpha(self) -> float:
        """SAC's entropy temperature, ``1 / reward_scale`` (MAAC's convention)."""
        return 1.0 / self.config.reward_scale

    def soft_targets(self, batch: Minibatch) -> list[torch.Tensor]:
        """Eq. 8's ``y`` per role: the other agents' next actions from their target policies,
        the target critic at ``(o', a', g')``. The networks run chunk by chunk; the actions are
        drawn for the whole minibatch at once, role by role."""
        roles = list(self._roles_of(batch.game))
        slices = batch.chunks(self.chunk_agents)
        chunks = [batch.rows(rows) for rows in slices]
        with torch.no_grad():
            next_logits = [
                torch.cat(
                    [
                        nets.target_policy(_view(part.next_obs, agents), part.next_graphs[r])
                        for part in chunks
                    ]
                )
                for r, (nets, agents) in enumerate(roles)
            ]
            next_actions = torch.cat([_draw(logits, self.generator) for logits in next_logits], 1)
            others = gather_others(next_actions, self.num_slots)
            targets = []
            for r, (nets, agents) in enumerate(roles):
                next_q = torch.cat(
                    [
                        nets.target_critic(
                            _view(part.next_obs, agents), others[rows, agents], part.next_graphs[r]
                        )
                        for part, rows in zip(chunks, slices, strict=True)
                    ]
                )
                rewards, terminated = batch.rewards[:, agents], batch.terminated[:, agents]
                if self.config.actor_critic == "maddpg":
                    own = next_actions[:, agents].unsqueeze(-1)
                    targets.append(
                        maddpg_q_target(
                            rewards,
                            terminated,
                            next_q.gather(-1, own).squeeze(-1),
                            self.config.gamma,
                        )
                    )
                    continue
                targets.append(
                    losses.soft_q_target(
                        rewards, terminated, next_logits[r], next_q, self.config.gamma, self.alpha
                    )
                )
        return targets

    def critic_gradients(self, batch: Minibatch) -> tuple[torch.Tensor, Gradients]:
        """Eq. 8's loss (summed over roles) and its gradients in every role's ``zeta``, chunk
        by chunk (:meth:`chunked_gradients`)."""
        targets = self.soft_targets(batch)
        others = gather_others(batch.actions, self.num_slots)
        roles = list(self._roles_of(batch.game))
        counts = [losses.chunk_count(batch.mask[:, agents]) for _, agents in roles]

        def chunk_loss(rows: slice) -> torch.Tensor:
            part = batch.rows(rows)
            return sum(
                losses.critic_loss(
                    nets.critic(_view(part.obs, agents), others[rows, agents], part.graphs[r]),
                    part.actions[:, agents],
                    targets[r][rows],
                    part.mask[:, agents],
                    counts[r],
                )
                for r, (nets, agents) in enumerate(roles)
            )

        return self.chunked_gradients(chunk_loss, batch, self.group_params("critic"))

    def critic_step(self, batch: Minibatch) -> float:
        """One step of every role's ``zeta`` on Eq. 8."""
        return self.step_on_gradients(*self.critic_gradients(batch))

    def policy_gradients(self, batch: Minibatch) -> tuple[torch.Tensor, Gradients]:
        """Eq. 9's loss (summed over roles) and its gradients in every role's ``theta`` (and
        ``phi`` with ``adapt_relation``), chunk by chunk: in each chunk the other agents'
        current actions are drawn from the chunk's logits, role by role (for a one-role game
        the same draws as one draw over the minibatch), then the critic, held fixed, gives
        their Q values."""
        roles = list(self._roles_of(batch.game))
        params = self.group_params("policy")
        if self.config.adapt_relation:  # Eq. 10: omega = (theta, phi), through g = phi(o, z)
            params = params + self.group_params("relation")
        counts = [losses.chunk_count(batch.mask[:, agents]) for _, agents in roles]

        def chunk_loss(rows: slice) -> torch.Tensor:
            part = batch.rows(rows)
            graphs = part.graphs
            if self.config.adapt_relation:
                graphs = [
                    nets.relation(
                        _view(part.obs, agents), None if part.z is None else part.z[:, agents]
                    )
                    for nets, agents in roles
                ]
            logits = [
                nets.policy(_view(part.obs, agents), graph)
                for (nets, agents), graph in zip(roles, graphs, strict=True)
            ]
            with torch.no_grad():
                current = torch.cat([_draw(x.detach(), self.generator) for x in logits], 1)
                others = gather_others(current, self.num_slots)
                q_values = [
                    nets.critic(_view(part.obs, agents), others[:, agents], graph)
                    for (nets, agents), graph in zip(roles, part.graphs, strict=True)
                ]
            return sum(
                losses.policy_loss(x, q, self.alpha, part.mask[:, agents], counts[r])
                for r, (x, q, (_, agents)) in enumerate(zip(logits, q_values, roles, strict=True))
            )

        return self.chunked_gradients(chunk_loss, batch, params)

    def policy_step(self, batch: Minibatch) -> float:
        """One step of every role's ``theta`` on Eq. 9 (the critic held fixed), or MADDPG's
        actor step (``actor_critic: maddpg``)."""
        if self.config.actor_critic == "maddpg":
            return self.maddpg_policy_step(batch)
        return self.step_on_gradients(*self.policy_gradients(batch))

    def chunked_gradients(
        self,
        chunk_loss: Callable[[slice], torch.Tensor],
        batch: Minibatch,
        params: list[torch.nn.Parameter],
    ) -> tuple[torch.Tensor, Gradients]:
        """The loss of ``batch`` and its gradients in ``params``, as the sums over the chunks
        of ``batch`` (:attr:`chunk_agents` agents each) of ``chunk_loss(rows)`` (each chunk's
        share of the loss) and of its gradients: one chunk's graph is alive at a time."""
        total = torch.zeros(())
        gradients = [torch.zeros_like(param) for param in params]
        for rows in batch.chunks(self.chunk_agents):
            loss = chunk_loss(rows)
            parts = torch.autograd.grad(loss, params, allow_unused=True)
            for gradient, part in zip(gradients, parts, strict=True):
                if part is not None:
                    gradient.add_(part)
            total = total + loss.detach()
        return total, dict(zip(params, gradients, strict=True))

    def step_on_gradients(self, loss: torch.Tensor, gradients: Gradients) -> float:
        """One optimizer step on ``gradients`` (:meth:`apply_parameter_gradients`; skipped,
        as ``step_on_loss`` skips it, where ``loss`` is not finite). Returns ``loss``."""
        if not torch.isfinite(loss).all():
            self._skip(f"non-finite loss {float(loss.sum())}", {})
        else:
            self.apply_parameter_gradients(gradients)
        return float(loss)

    def maddpg_policy_step(self, batch: Minibatch) -> float:
        """MADDPG's actor step for discrete actions (Lowe et al. 2017; the paper's MADDPG
        baseline, section 7.1, with the relational critic): the own action a straight-through
        Gumbel-softmax sample of ``pi``, the others' actions from the replay buffer, loss
        ``-Q(o, a, g)`` plus MADDPG's ``1e-3 * mean(logits^2)``."""
        others = gather_others(batch.actions, self.num_slots)
        loss = 0.0
        for (nets, agents), graph in zip(self._roles_of(batch.game), batch.graphs, strict=True):
            obs = _view(batch.obs, agents)
            logits = nets.policy(obs, graph)
            own = gumbel_softmax_hard(logits, 1.0, self.generator)
            q_values = nets.critic(obs, others[:, agents], graph)
            value = (own * q_values).sum(-1)
            mask = batch.mask[:, agents]
            loss = loss - losses.masked_mean(value, mask)
            loss = loss + MADDPG_LOGIT_PENALTY * losses.masked_mean(logits.square().mean(-1), mask)
        self.step_on_loss(loss, self.group_params("policy"))
        return float(loss.detach())

    def relation_step(self, batch: Minibatch) -> float:
        """One ascent step of every role's ``phi`` on Eq. 11's bound: ``pi_bar`` at ``g =
        phi(o, z)`` against its mean over ``n`` graphs of freshly drawn ``z'``. Returns the
        bound (nats)."""
        n = self.config.num_resampled_z
        bound = 0.0
        for nets, agents in self._roles_of(batch.game):
            obs = _view(batch.obs, agents)
            graph = nets.relation(obs, batch.z[:, agents])
            with torch.no_grad():
                resampled_z = torch.stack(
                    [nets.sample_latent(obs["game"], self.generator) for _ in range(n)]
                )
                probs = torch.softmax(nets.policy(obs, graph.detach()), -1)
            features = nets.target_policy.features(obs)
            log_probs = torch.log_softmax(nets.target_policy.read(features, graph), -1)
            resampled = torch.log_softmax(
                nets.target_policy.read(features, nets.relation(obs, resampled_z)), -1
            )
            per_sample = losses.expected_contrastive_mi(probs, log_probs, resampled)
            bound = bound + losses.masked_mean(per_sample, batch.mask[:, agents])
        self.step_on_loss(-bound, self.group_params("relation"))
        return float(bound.detach())

    def classifier_step(self, batch: Minibatch) -> float:
        """One step of every role's ``psi`` and ``xi`` on Eq. 13 (``z`` drawn afresh from
        ``p_psi``, straight-through). Returns Eq. 12's estimate ``log |M| - CE``."""
        loss = 0.0
        labels = torch.full(batch.actions.shape, batch.game.index)
        for nets, agents in self._roles_of(batch.game):
            obs = _view(batch.obs, agents)
            z = nets.sample_latent(obs["game"], self.generator)
            logits = nets.classifier(obs, nets.relation(obs, z))
            loss = loss + losses.game_classifier_loss(
                logits, labels[:, agents], batch.mask[:, agents]
            )
        self.step_on_loss(loss, self.group_params("prior") + self.group_params("classifier"))
        cross_entropy = float(loss.detach()) / len(self.roles)
        return float(losses.game_mutual_information(torch.tensor(cross_entropy), len(self.games)))

    # -- adaptation ------------------------------------------------------------------------

    def load_initial_weights(self, path: str) -> list[str]:
        """Start from the networks of the MRA checkpoint at ``path`` (a checkpoint, trial or
        experiment directory: its newest checkpoint), targets included (Algorithm 5's input).
        Weights whose shape differs here (the classifier's head when ``|M|`` differs) keep
        their initialisation; returns their names."""
        checkpoint = find_checkpoint(path)
        source = RLModule.from_checkpoint(
            checkpoint
            / COMPONENT_LEARNER_GROUP
            / COMPONENT_LEARNER
            / COMPONENT_RL_MODULE
            / DEFAULT_MODULE_ID
        )
        own = self.rl_module.state_dict()
        loaded = {
            key: value
            for key, value in source.state_dict().items()
            if key in own and own[key].shape == value.shape
        }
        self.rl_module.load_state_dict(loaded, strict=False)
        return sorted(set(own) - set(loaded))

    # -- checkpoints -----------------------------------------------------------------------

    def get_state(self, components=None, *, not_components=None, **kwargs) -> dict[str, Any]:
        state = super().get_state(components, not_components=not_components, **kwargs)
        state[REPLAY_STATE] = {
            "buffers": [buffer.get_state() for buffer in self.buffers],
            "rng_state": self.generator.get_state().numpy(),
        }
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        if REPLAY_STATE in state:
            for buffer, saved in zip(self.buffers, state[REPLAY_STATE]["buffers"], strict=True):
                buffer.set_state(saved)
            rng_state = np.asarray(state[REPLAY_STATE]["rng_state"])
            self.generator.set_state(torch.from_numpy(rng_state))
