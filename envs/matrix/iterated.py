"""Iterated matrix games as PettingZoo parallel environments.

The memory-one setting of Meta-MAPG (paper 001, section 5: ``s_0 = 0``, ``s_t = a_{t-1}``) and of
paper 003's iterated games: every agent observes a one-hot of the previous joint action (or of the
start state), acts simultaneously, and is paid from :attr:`MatrixGame.payoffs`. The state indices
come from :mod:`envs.matrix.games` so this env, the batched core and the exact evaluator agree.
"""

from __future__ import annotations

import operator
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from envs.matrix.games import (
    START_STATE,
    MatrixGame,
    check_horizon,
    own_first_state_permutation,
    state_place_values,
)

RENDER_MODES = ("ansi",)

AgentID = str


class IteratedMatrixGame(ParallelEnv[AgentID, np.ndarray, int]):
    """A matrix game repeated for a fixed number of steps, observing the last joint action.

    Observation of each agent: ``Box(0, 1, (S,), float32)``, the one-hot of the state it observes
    (``S = 1 + A**n``; see :mod:`envs.matrix.games` for the indexing). With
    ``own_first_observation`` player ``i`` observes the joint action with its own action first.
    Action: ``Discrete(A)``. Reward: ``(payoff + reward_offset) * reward_scale``. Infos after a
    step: ``{"payoff": raw payoff, "joint_action": tuple}``.

    The episode ends with ``terminations=True`` for every agent after ``horizon`` steps: the
    finite horizon is part of the game being modelled (the papers' values are sums over exactly
    ``horizon`` steps with no bootstrap beyond them), not a time limit cutting off a longer game,
    so value bootstrapping at the last step would be wrong.
    """

    metadata = {"name": "iterated_matrix_game_v0", "render_modes": list(RENDER_MODES)}

    def __init__(
        self,
        game: MatrixGame,
        horizon: int,
        reward_offset: float = 0.0,
        reward_scale: float = 1.0,
        own_first_observation: bool = False,
        render_mode: str | None = None,
    ) -> None:
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(
                f"render_mode must be None or one of {list(RENDER_MODES)}; got {render_mode!r}"
            )
        self.game = game
        self.horizon = check_horizon(horizon)
        self.reward_offset = float(reward_offset)
        self.reward_scale = float(reward_scale)
        self.own_first_observation = bool(own_first_observation)
        self.render_mode = render_mode

        num_players, num_states = game.num_players, game.num_states
        self.possible_agents = [f"player_{i}" for i in range(num_players)]
        self.agents: list[AgentID] = []
        # Spaces are created once so that seeding them persists (PettingZoo requires identity).
        self.observation_spaces = {
            agent: spaces.Box(0.0, 1.0, (num_states,), np.float32) for agent in self.possible_agents
        }
        self.action_spaces = {
            agent: spaces.Discrete(game.num_actions) for agent in self.possible_agents
        }
        self.state_space = spaces.Box(0.0, 1.0, (num_states,), np.float32)

        self._place_values = state_place_values(game.num_actions, num_players)
        self._rewards = game.transformed_payoffs(self.reward_offset, self.reward_scale)
        self._observed_states = self._observed_state_table()
        self._one_hot = np.eye(num_states, dtype=np.float32)
        self._state = START_STATE
        self._joint_action: tuple[int, ...] | None = None
        self.num_steps = 0

    def _observed_state_table(self) -> np.ndarray:
        """``(n, S)`` table: the state index each player observes in each canonical state."""
        num_players, num_actions = self.game.num_players, self.game.num_actions
        if self.own_first_observation:
            return own_first_state_permutation(num_actions, num_players)
        return np.tile(np.arange(self.game.num_states), (num_players, 1))

    # -- PettingZoo API ---------------------------------------------------------------------

    def observation_space(self, agent: AgentID) -> spaces.Box:
        """The (fixed) observation space of ``agent``."""
        return self.observation_spaces[agent]

    def action_space(self, agent: AgentID) -> spaces.Discrete:
        """The (fixed) action space of ``agent``."""
        return self.action_spaces[agent]

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[AgentID, np.ndarray], dict[AgentID, dict[str, Any]]]:
        """Start a new episode in the start state; ``options`` is accepted and ignored.

        The dynamics are deterministic, so ``seed`` only seeds the agents' action and observation
        spaces (agent ``i`` with ``seed + i``) to make sampled actions reproducible.
        """
        if seed is not None:
            self._seed_spaces(seed)
        self.agents = list(self.possible_agents)
        self._state = START_STATE
        self._joint_action = None
        self.num_steps = 0
        return self._observations(), {agent: {} for agent in self.agents}

    def step(
        self, actions: dict[AgentID, Any]
    ) -> tuple[
        dict[AgentID, np.ndarray],
        dict[AgentID, float],
        dict[AgentID, bool],
        dict[AgentID, bool],
        dict[AgentID, dict[str, Any]],
    ]:
        """Play one joint action; every live agent must act with an integer in ``[0, A)``."""
        if not self.agents:
            raise RuntimeError("step() called on a finished episode; call reset() first")
        joint_action = self._joint_action_from(actions)
        self._joint_action = joint_action
        self._state = 1 + int(np.dot(joint_action, self._place_values))
        self.num_steps += 1

        raw_payoff = self.game.payoffs[joint_action]
        reward = self._rewards[joint_action]
        done = self.num_steps >= self.horizon
        agents = self.agents
        observations = self._observations()
        rewards = {agent: float(reward[i]) for i, agent in enumerate(agents)}
        terminations = dict.fromkeys(agents, done)
        truncations = dict.fromkeys(agents, False)
        infos = {
            agent: {"payoff": float(raw_payoff[i]), "joint_action": joint_action}
            for i, agent in enumerate(agents)
        }
        if done:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def render(self) -> str | None:
        """Text line with the step, the last joint action's names and payoffs (``"ansi"``)."""
        if self.render_mode is None:
            gymnasium.logger.warn("render() called without a render_mode; nothing to render")
            return None
        prefix = f"{self.game.name} step {self.num_steps}/{self.horizon}"
        if self._joint_action is None:
            return f"{prefix}: start"
        names = "".join(self.game.action_names[a] for a in self._joint_action)
        payoffs = ", ".join(f"{p:g}" for p in self.game.payoffs[self._joint_action])
        return f"{prefix}: {names} payoffs ({payoffs})"

    def state(self) -> np.ndarray:
        """One-hot of the canonical state (player 0's action first), for centralised critics."""
        return self._one_hot[self._state].copy()

    def close(self) -> None:
        """Nothing to release."""

    # -- helpers ----------------------------------------------------------------------------

    def _seed_spaces(self, seed: int) -> None:
        for i, agent in enumerate(self.possible_agents):
            self.action_spaces[agent].seed(seed + i)
            self.observation_spaces[agent].seed(seed + i)

    def _observations(self) -> dict[AgentID, np.ndarray]:
        observed = self._observed_states[:, self._state]
        return {agent: self._one_hot[observed[i]].copy() for i, agent in enumerate(self.agents)}

    def _joint_action_from(self, actions: dict[AgentID, Any]) -> tuple[int, ...]:
        """Validate ``actions`` and return them as a joint-action tuple in player order."""
        unknown = sorted(set(actions) - set(self.agents))
        if unknown:
            raise ValueError(
                f"Actions given for unknown or finished agents {unknown}; "
                f"live agents: {self.agents}"
            )
        missing = [agent for agent in self.agents if agent not in actions]
        if missing:
            raise ValueError(
                f"Missing actions for agents {missing}; every live agent must act "
                f"with an integer in [0, {self.game.num_actions - 1}]"
            )
        return tuple(self._action_index(agent, actions[agent]) for agent in self.agents)

    def _action_index(self, agent: AgentID, action: Any) -> int:
        """``action`` as a Python int, or ValueError naming ``agent`` and the allowed range."""
        num_actions = self.game.num_actions
        try:
            index = operator.index(action)
        except TypeError:
            index = -1  # not an integer: reported below with the allowed range
        if isinstance(action, bool) or not 0 <= index < num_actions:
            raise ValueError(
                f"Invalid action {action!r} for agent {agent!r}; allowed: an integer in "
                f"[0, {num_actions - 1}] ({', '.join(self.game.action_names)})"
            )
        return index
