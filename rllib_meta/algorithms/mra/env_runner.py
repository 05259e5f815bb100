"""``ParticleEnvRunner``: MRA's sampler (paper 002, Algorithm 4, "for Markov Game m" and the
rollout lines).

The runner steps one :class:`~envs.particle.BatchedParticleWorld` per training MG, its share
of ``envs_per_population`` games each, all padded to one observation shape. At every episode
start each agent draws its latent ``z^i ~ p_psi(z | m)`` (or uniformly, or none) and keeps it
for the episode; every step, per MG and per role, one batched forward pass over all games and
agents computes ``g = phi(o, z)`` and ``pi(a | o, g)`` and draws the actions (no Python loop
over agents or games). A ``sample()`` runs ``rollout_steps`` steps of every game and returns,
per MG, the transitions as compact world states (see
:func:`~.populations.world_state`), the actions, rewards, terminations and latents, and the
returns of the episodes that ended. Games that end (time limit, or every Pac-Man caught)
restart at once with fresh latents.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import torch
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.env import INPUT_ENV_SPACES

from envs.particle.batched import BatchedParticleWorld
from rllib_meta.algorithms.base.env_runner import SamplingEnvRunner
from rllib_meta.algorithms.mra.acting import acting_logits
from rllib_meta.algorithms.mra.populations import (
    STATE_KEYS,
    Game,
    padding,
    training_games,
    world_state,
)


def role_slices(game: Game) -> list[slice]:
    """The agents of each role (the worlds order agents role by role)."""
    bounds = np.cumsum([0, *game.task.role_counts])
    return [slice(int(start), int(stop)) for start, stop in itertools.pairwise(bounds)]


def draw_latents(
    module, game: Game, descriptor: torch.Tensor, generator: torch.Generator
) -> torch.Tensor | None:
    """``z`` ``(B, N, |Z|)`` for every agent of ``B`` games (``None`` for ``latent: none``),
    each role from its own ``p_psi``."""
    parts = [
        nets.sample_latent(descriptor[:, agents], generator)
        for nets, agents in zip(module.roles.values(), role_slices(game), strict=True)
    ]
    return None if parts[0] is None else torch.cat(parts, dim=1).detach()


def act(
    module,
    game: Game,
    obs: dict[str, torch.Tensor],
    z: torch.Tensor | None,
    generator: torch.Generator,
    greedy: bool = False,
) -> torch.Tensor:
    """Actions ``(B, N)`` of every agent: per role, one pass of ``phi`` and ``pi`` over all
    games and agents (fused for inference, :func:`~.acting.acting_logits`), then one draw (or
    the argmax)."""
    actions = []
    for nets, agents in zip(module.roles.values(), role_slices(game), strict=True):
        view = {key: value[:, agents] for key, value in obs.items()}
        logits = acting_logits(nets, view, None if z is None else z[:, agents])
        if greedy:
            actions.append(logits.argmax(-1))
        else:
            probs = torch.softmax(logits, -1).flatten(0, -2)
            drawn = torch.multinomial(probs, 1, generator=generator)
            actions.append(drawn.view(logits.shape[:-1]))
    return torch.cat(actions, dim=1)


class ParticleEnvRunner(SamplingEnvRunner):
    """Samples every training MG at once (see the module docstring)."""

    RANDOM_GENERATORS = ("generator",)

    def __init__(self, *, config, **kwargs):
        super().__init__(config=config, **kwargs)
        self.games = training_games(config.env, config.env_config, config.training_populations)
        pad = padding(self.games)
        self.num_envs = self.share.of(config.envs_per_population)
        seeds = np.random.SeedSequence(self.seed).spawn(len(self.games))
        self.worlds = [
            BatchedParticleWorld(
                game.task, self.num_envs, seed=seed, max_cycles=game.max_cycles, **pad
            )
            for game, seed in zip(self.games, seeds, strict=True)
        ]
        self.generator = torch.Generator().manual_seed(self.seed)
        for world in self.worlds:
            world.reset()
        # Drawn at the first sample(), with the weights the Learner sent (not the initial ones).
        self.latents: list[torch.Tensor | None] | None = None
        self.returns = [np.zeros((self.num_envs, g.task.num_agents)) for g in self.games]

    def get_spaces(self):
        agent = self.env.possible_agents[0]
        spaces = (self.env.observation_space(agent), self.env.action_space(agent))
        return {INPUT_ENV_SPACES: spaces, DEFAULT_MODULE_ID: spaces}

    def _draw(self, game: Game, world: BatchedParticleWorld, envs=None) -> torch.Tensor | None:
        descriptor = torch.from_numpy(world.observe()["game"])
        if envs is not None:
            descriptor = descriptor[torch.from_numpy(envs)]
        with torch.no_grad():
            return draw_latents(self.module, game, descriptor, self.generator)

    # -- sampling --------------------------------------------------------------------------

    def sample(self, **kwargs) -> dict[str, list]:
        """``rollout_steps`` steps of every game of every MG (see the module docstring).
        Returns ``transitions`` (one dict of ``(T B, ...)`` arrays per MG) and
        ``episode_returns`` (per MG, ``(E, N)``: the returns of the episodes that ended)."""
        if self.latents is None:
            self.latents = [self._draw(g, w) for g, w in zip(self.games, self.worlds, strict=True)]
        transitions, finished = [], []
        for index in range(len(self.games)):
            steps, returns = self._roll(index, self.config.rollout_steps)
            transitions.append({key: np.concatenate([s[key] for s in steps]) for key in steps[0]})
            finished.append(returns)
        self.num_env_steps_sampled_lifetime += (
            self.config.rollout_steps * self.num_envs * len(self.games)
        )
        return {"transitions": transitions, "episode_returns": finished}

    def _roll(self, index: int, count: int) -> tuple[list[dict], np.ndarray]:
        game, world = self.games[index], self.worlds[index]
        steps, finished = [], []
        obs = world.observe()
        for _ in range(count):
            before = world_state(world)
            tensors = {key: torch.from_numpy(value) for key, value in obs.items()}
            with torch.no_grad():
                actions = act(self.module, game, tensors, self.latents[index], self.generator)
            actions = actions.numpy()
            obs, rewards, terminated, truncated = world.step(actions)
            after = world_state(world)
            step = {**before, **{f"next_{key}": after[key] for key in STATE_KEYS}}
            step.update(actions=actions, rewards=rewards, terminated=terminated)
            if self.latents[index] is not None:
                step["z"] = self.latents[index].numpy()
            steps.append(step)
            self.returns[index] += rewards
            done = truncated | world.game_over()
            if done.any():
                finished.append(self.returns[index][done].copy())
                self.returns[index][done] = 0.0
                obs = world.reset(done)
                self._redraw(index, done)
        empty = np.zeros((0, game.task.num_agents))
        return steps, np.concatenate(finished) if finished else empty

    def _redraw(self, index: int, envs: np.ndarray) -> None:
        latents = self.latents[index]
        if latents is None:
            return
        latents = latents.clone()
        latents[torch.from_numpy(envs)] = self._draw(self.games[index], self.worlds[index], envs)
        self.latents[index] = latents

    # -- checkpoints -----------------------------------------------------------------------

    def sampler_state(self) -> dict[str, Any]:
        return {
            "worlds": [
                {
                    **world_state(world),
                    "steps": world.state.steps.copy(),
                    "rng": world.rng.bit_generator.state,
                }
                for world in self.worlds
            ],
            "latents": None
            if self.latents is None
            else [None if z is None else z.numpy().copy() for z in self.latents],
            "returns": [r.copy() for r in self.returns],
        }

    def load_sampler_state(self, state: dict[str, Any]) -> None:
        # A share re-dispatched from a failed runner may hold one game more or less per MG.
        self.num_envs = len(state["worlds"][0]["steps"])
        for world, saved in zip(self.worlds, state["worlds"], strict=True):
            world.batch_size = self.num_envs
            for key in (*STATE_KEYS, "steps"):
                setattr(world.state, key, np.array(saved[key]))
            world.rng.bit_generator.state = saved["rng"]
        latents = state["latents"]
        self.latents = (
            None
            if latents is None
            else [None if z is None else torch.from_numpy(np.array(z)) for z in latents]
        )
        self.returns = [np.array(r) for r in state["returns"]]
