"""The "learning game" of a differentiable game as a PettingZoo parallel env (paper 004, 3.2).

Paper 004 section 3.2 ("Connection to Q-Learning") reads optimisation as an RL environment: the
state is the joint policy ``x``, each player acts with a change ``dx_i`` of its own parameters,
the transition ``x' = x + dx`` is deterministic and the reward is ``f(x')``, the inner game's
objectives at the new joint policy. MeVa's meta-value ``V(x)`` is the discounted return of this
environment under gradient-following players. This module exposes that view of any
:class:`~envs.differentiable.games.DifferentiableGame`, so RLlib's algorithms can be run on it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from pettingzoo import ParallelEnv

from envs.differentiable.games import NUM_PLAYERS, DifferentiableGame
from envs.matrix.games import check_horizon

AgentID = str


def check_max_step(max_step: float) -> float:
    """Return ``max_step`` as a float, or raise ValueError unless it is a finite number > 0."""
    is_number = isinstance(max_step, int | float | np.number) and not isinstance(max_step, bool)
    if not (is_number and math.isfinite(max_step) and max_step > 0):
        raise ValueError(f"max_step must be a finite number > 0; got {max_step!r}")
    return float(max_step)


class LearningGameEnv(ParallelEnv[AgentID, np.ndarray, np.ndarray]):
    """Optimisation of a two-player differentiable game as a multi-agent RL environment.

    * Agents ``player_0`` and ``player_1``; the state is one joint policy ``x`` of shape
      ``(2, n)`` (float32), drawn at reset from ``game.initial_policies``.
    * Observation of player ``i``: ``Box(-inf, inf, (2n,), float32)``, the joint policy with its
      own parameters first (``[x_i, x_j]``), so a policy shared by both players sees the game
      from its own side, as MeVa's shared model does. The step count is not observed: the paper's
      state is ``x`` alone.
    * Action of player ``i``: ``Box(-max_step, max_step, (n,), float32)``, a change of its own
      parameters; values outside the box are clipped (RLlib's Gaussian policies sample outside).
    * Transition ``x' = x + clip(dx)``; reward of player ``i``: ``f_i(x')``.
    * The episode ends with ``terminations=True`` after ``horizon`` steps.

    ``render_mode`` must be None: there is nothing to render beyond :meth:`state`.
    Attribute ``game`` is the :class:`DifferentiableGame`; ``joint_policy`` the current ``x``.
    """

    metadata = {"name": "learning_game_v0", "render_modes": []}

    def __init__(
        self,
        game: DifferentiableGame,
        horizon: int,
        max_step: float = 1.0,
        render_mode: str | None = None,
    ) -> None:
        if render_mode is not None:
            raise ValueError(f"render_mode must be None (nothing to render); got {render_mode!r}")
        self.game = game
        self.horizon = check_horizon(horizon)
        self.max_step = check_max_step(max_step)
        self.render_mode = render_mode

        num_params = game.num_params
        self.possible_agents = [f"player_{i}" for i in range(NUM_PLAYERS)]
        self.agents: list[AgentID] = []
        # Spaces are created once so that seeding them persists (PettingZoo requires identity).
        self.observation_spaces = {
            agent: spaces.Box(-np.inf, np.inf, (NUM_PLAYERS * num_params,), np.float32)
            for agent in self.possible_agents
        }
        self.action_spaces = {
            agent: spaces.Box(-self.max_step, self.max_step, (num_params,), np.float32)
            for agent in self.possible_agents
        }
        self.state_space = spaces.Box(-np.inf, np.inf, (NUM_PLAYERS * num_params,), np.float32)

        self._generator = torch.Generator()
        self._generator.seed()  # unseeded resets still differ from run to run
        self.joint_policy = np.zeros((NUM_PLAYERS, num_params), dtype=np.float32)
        self.num_steps = 0

    # -- PettingZoo API ---------------------------------------------------------------------

    def observation_space(self, agent: AgentID) -> spaces.Box:
        """The (fixed) observation space of ``agent``."""
        return self.observation_spaces[agent]

    def action_space(self, agent: AgentID) -> spaces.Box:
        """The (fixed) action space of ``agent``."""
        return self.action_spaces[agent]

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[AgentID, np.ndarray], dict[AgentID, dict[str, Any]]]:
        """Draw a joint policy from ``game.initial_policies``; ``options`` is ignored.

        A ``seed`` re-seeds the torch generator of the start distribution (the same seed gives the
        same start) and the agents' spaces (agent ``i`` with ``seed + i``); without one the
        generator continues its stream.
        """
        if seed is not None:
            self._generator.manual_seed(seed)
            for i, agent in enumerate(self.possible_agents):
                self.action_spaces[agent].seed(seed + i)
                self.observation_spaces[agent].seed(seed + i)
        start = self.game.initial_policies(1, self._generator)[0]
        self.joint_policy = start.detach().cpu().numpy().astype(np.float32)
        self.agents = list(self.possible_agents)
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
        """Apply both players' clipped parameter changes; reward each with ``f_i`` at the new x."""
        if not self.agents:
            raise RuntimeError("step() called on a finished episode; call reset() first")
        self._check_agents(actions)
        delta = np.stack([self._clipped_action(agent, actions[agent]) for agent in self.agents])
        self.joint_policy = (self.joint_policy + delta).astype(np.float32)
        self.num_steps += 1

        values = self._values(self.joint_policy)
        done = self.num_steps >= self.horizon
        agents = self.agents
        observations = self._observations()
        rewards = {agent: float(values[i]) for i, agent in enumerate(agents)}
        terminations = dict.fromkeys(agents, done)
        truncations = dict.fromkeys(agents, False)
        infos: dict[AgentID, dict[str, Any]] = {agent: {} for agent in agents}
        if done:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def render(self) -> None:
        """Nothing to render (``render_mode`` is always None)."""
        return None

    def state(self) -> np.ndarray:
        """The joint policy, player 0's parameters first, flattened (for centralised critics)."""
        return self.joint_policy.reshape(-1).copy()

    def close(self) -> None:
        """Nothing to release."""

    # -- helpers ----------------------------------------------------------------------------

    def _values(self, joint_policy: np.ndarray) -> np.ndarray:
        """``f(x)`` as numpy ``(2,)``, computed in float64 from the float32 state."""
        with torch.no_grad():
            x = torch.as_tensor(joint_policy, dtype=torch.float64)
            return self.game.values(x).numpy()

    def _observations(self) -> dict[AgentID, np.ndarray]:
        x = self.joint_policy
        own_first = {0: x, 1: x[::-1]}  # two players: own row first is a row swap for player 1
        return {
            agent: np.ascontiguousarray(own_first[i].reshape(-1), dtype=np.float32)
            for i, agent in enumerate(self.possible_agents)
            if agent in self.agents
        }

    def _check_agents(self, actions: dict[AgentID, Any]) -> None:
        """Both live players, and nobody else, must act (the transition needs the joint dx)."""
        unknown = sorted(set(actions) - set(self.agents))
        if unknown:
            raise ValueError(
                f"Actions given for unknown or finished agents {unknown}; live agents: "
                f"{self.agents}"
            )
        missing = [agent for agent in self.agents if agent not in actions]
        if missing:
            raise ValueError(f"Missing actions for agents {missing}; both players act every step")

    def _clipped_action(self, agent: AgentID, raw: Any) -> np.ndarray:
        """``agent``'s parameter change as float32 ``(n,)``, clipped to the action box."""
        shape = (self.game.num_params,)
        try:
            action = np.asarray(raw, dtype=np.float64).reshape(shape)
        except (TypeError, ValueError):
            action = np.full(shape, np.nan)  # unusable: reported below with the expected form
        if not np.isfinite(action).all():
            raise ValueError(
                f"Invalid action {raw!r} for agent {agent!r}; expected {shape[0]} "
                f"finite number(s) (clipped to [-{self.max_step:g}, {self.max_step:g}])"
            )
        return np.clip(action, -self.max_step, self.max_step).astype(np.float32)
