"""The context-query wrapper of paper 003 (section 3 and Algorithm 1) as a PettingZoo env.

Before each episode of the iterated game the leader is asked, for every memory-one state ``k``,
"How do you act in state k?"; its answers ``omega`` (one action per state) are the context that
paper 003's contextual follower sees appended to its observation at every game step. With two
actions and five states the answers describe a deterministic memory-one leader exactly.
"""

from __future__ import annotations

import operator
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from envs.matrix.iterated import IteratedMatrixGame

AgentID = str
LEADER, FOLLOWER = "player_0", "player_1"
QUERY_STATES = 5
NUM_ACTIONS = 2


def follower_context_observation(state: int | np.ndarray, omega: np.ndarray) -> np.ndarray:
    """The follower's observation ``concat(one_hot(state, 5), omega)`` (paper 003 section 3:
    agent ``i`` observes ``(o_{i,t}, omega)``), float32 with shape ``(..., 10)``.

    ``state`` is the follower's observed game state (an int or an integer array of any batch
    shape); ``omega`` holds the leader's 5 answers as 0/1 (shape ``(..., 5)``); batch dims
    broadcast. :class:`ContextQueryEnv`'s encoding, as a function for batched callers.
    (StackelbergMeta's tabular follower reads the same two inputs as one index, state x 32 +
    the answers' policy index; see ``rllib_meta/algorithms/stackelberg/rl_module.py``.)
    """
    states = np.asarray(state)
    answers = np.asarray(omega)
    if not np.issubdtype(states.dtype, np.integer) or ((states < 0) | (states >= 5)).any():
        raise ValueError(f"state must be integer(s) in [0, {QUERY_STATES - 1}]; got {state!r}")
    if answers.ndim < 1 or answers.shape[-1] != QUERY_STATES:
        raise ValueError(
            f"omega must have shape (..., {QUERY_STATES}), one answer per state; "
            f"got {answers.shape}"
        )
    if not np.isin(answers, (0, 1)).all():
        raise ValueError(f"omega entries must be actions in [0, 1]; got {answers!r}")
    one_hot = np.eye(QUERY_STATES, dtype=np.float32)[states]
    batch = np.broadcast_shapes(one_hot.shape[:-1], answers.shape[:-1])
    return np.concatenate(
        [
            np.broadcast_to(one_hot, (*batch, QUERY_STATES)),
            np.broadcast_to(answers.astype(np.float32), (*batch, QUERY_STATES)),
        ],
        axis=-1,
    )


class ContextQueryEnv(ParallelEnv[AgentID, np.ndarray, int]):
    """Paper 003's iterated game with the leader's 5 state queries before it (Algorithm 1).

    An episode is ``5 + horizon`` steps:

    * Query steps ``k = 0..4``: only the leader is live (``agents == ["player_0"]``); it observes
      the one-hot of state ``k`` (the game's own observation space, ``Box(0, 1, (5,))``) and its
      action is recorded as its answer ``omega[k]``. Reward 0.
    * Game steps: both agents live. The leader observes the wrapped game's one-hot state; the
      follower observes :func:`follower_context_observation` of its game state and ``omega``,
      ``Box(0, 1, (10,))``. Rewards are the wrapped game's (its offset and scale apply). The
      follower joins on the step that answers the last query; it is paid 0 on that step.

    ``commit=True`` (default): the leader's in-game action is replaced by ``omega[state]``: the
    leader plays the policy it announced, which keeps the follower's context truthful (paper 003
    queries the same policy that then plays). ``commit=False`` plays the leader's own in-game
    actions, so the context can lie.

    Infos: ``infos["player_0"]["query"]`` says whether the observation it comes with is a query
    (True from reset to the last query, then False), so the flag sits on the step whose action it
    describes, as RLlib aligns infos with observations. Game steps also carry the wrapped game's
    infos, the leader's ``"played"`` (the action actually played) and ``"omega"`` (a tuple).

    Training signal (what "the query steps must not distort the leader's training signal" means
    here): with ``commit=True`` and ``gamma = 1`` the query answers are the leader's real
    decisions, and each query step's return-to-go is the whole game return, the right credit;
    the leader's in-game actions have no effect on anything, so they are pure noise in a batch --
    unbiased but noisy. An RLlib user can drop the leader's steps whose infos say ``query`` is
    False. Paper 003 instead hides the queries from the leader's batch and trains on the in-game
    steps (its leader acts in-game with the policy it was queried with); with ``commit=False``
    that is what the leader's in-game steps give, and the query steps should be dropped.

    PettingZoo's ``parallel_api_test`` accepts an agent that joins mid-episode, so the follower is
    simply absent during the queries rather than live with an ignored action and a zero
    observation (which would put 5 meaningless steps into its batch).
    """

    metadata = {"name": "context_query_matrix_game_v0", "render_modes": ["ansi"]}

    def __init__(self, game_env: IteratedMatrixGame, commit: bool = True) -> None:
        _check_game_env(game_env)
        if not isinstance(commit, bool):
            raise ValueError(f"commit must be a bool (True or False); got {commit!r}")
        self.game_env = game_env
        self.commit = commit
        self.horizon = game_env.horizon
        self.render_mode = game_env.render_mode
        self.possible_agents = [LEADER, FOLLOWER]
        self.agents: list[AgentID] = []
        self.observation_spaces = {
            LEADER: game_env.observation_space(LEADER),
            FOLLOWER: spaces.Box(0.0, 1.0, (2 * QUERY_STATES,), np.float32),
        }
        self.action_spaces = {agent: game_env.action_space(agent) for agent in self.possible_agents}
        self.omega = np.zeros(QUERY_STATES, dtype=np.int64)
        self.num_queries = 0
        self._game_observations: dict[AgentID, np.ndarray] = {}

    @property
    def querying(self) -> bool:
        """Whether the next step answers a query."""
        return self.num_queries < QUERY_STATES

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
        """Start with query 0: only the leader is live. ``seed`` seeds the spaces."""
        self._game_observations, _ = self.game_env.reset(seed=seed, options=options)
        if seed is not None:
            self.observation_spaces[FOLLOWER].seed(seed + 1)
        self.omega = np.zeros(QUERY_STATES, dtype=np.int64)
        self.num_queries = 0
        self.agents = [LEADER]
        return {LEADER: self._query_observation()}, {LEADER: {"query": True}}

    def step(
        self, actions: dict[AgentID, Any]
    ) -> tuple[
        dict[AgentID, np.ndarray],
        dict[AgentID, float],
        dict[AgentID, bool],
        dict[AgentID, bool],
        dict[AgentID, dict[str, Any]],
    ]:
        """Record a query answer, or play one game step (see the class docstring)."""
        if not self.agents:
            raise RuntimeError("step() called on a finished episode; call reset() first")
        if self.querying:
            return self._answer_query(actions)
        return self._play(actions)

    def render(self) -> str | None:
        """The query being asked, or the wrapped game's line (``"ansi"``)."""
        if self.render_mode is None:
            gymnasium.logger.warn("render() called without a render_mode; nothing to render")
            return None
        answers = "".join(str(int(a)) for a in self.omega[: self.num_queries])
        if self.querying:
            return f"query {self.num_queries}/{QUERY_STATES}: answers so far {answers or '-'}"
        return f"{self.game_env.render()} | omega {answers}"

    def close(self) -> None:
        """Close the wrapped game."""
        self.game_env.close()

    # -- steps ------------------------------------------------------------------------------

    def _answer_query(self, actions: dict[AgentID, Any]) -> tuple[dict, dict, dict, dict, dict]:
        _check_agents(actions, self.agents)
        answer = _leader_action(actions[LEADER])
        self.omega[self.num_queries] = answer
        self.num_queries += 1
        if self.querying:
            observations = {LEADER: self._query_observation()}
        else:  # the game starts: the follower joins with its first context observation
            self.agents = list(self.possible_agents)
            observations = self._game_view(self._game_observations)
        rewards = dict.fromkeys(self.agents, 0.0)
        flags = dict.fromkeys(self.agents, False)
        infos: dict[AgentID, dict[str, Any]] = {agent: {} for agent in self.agents}
        infos[LEADER] = {"query": self.querying, "answer": answer}
        return observations, rewards, flags, dict(flags), infos

    def _play(self, actions: dict[AgentID, Any]) -> tuple[dict, dict, dict, dict, dict]:
        _check_agents(actions, self.agents)
        game_actions = dict(actions)
        if self.commit:
            _leader_action(actions[LEADER])  # ignored, but an invalid action is still refused
            game_actions[LEADER] = int(self.omega[self._canonical_state()])
        observations, rewards, terminations, truncations, infos = self.game_env.step(game_actions)
        self._game_observations = observations
        infos[LEADER] = {
            **infos[LEADER],
            "query": False,
            "played": int(infos[LEADER]["joint_action"][0]),
            "omega": tuple(int(a) for a in self.omega),
        }
        self.agents = list(self.game_env.agents)
        return self._game_view(observations), rewards, terminations, truncations, infos

    # -- helpers ----------------------------------------------------------------------------

    def _query_observation(self) -> np.ndarray:
        observation = np.zeros(QUERY_STATES, dtype=np.float32)
        observation[self.num_queries] = 1.0
        return observation

    def _canonical_state(self) -> int:
        return int(np.argmax(self.game_env.state()))

    def _game_view(self, observations: dict[AgentID, np.ndarray]) -> dict[AgentID, np.ndarray]:
        """The wrapped game's observations with the follower's context appended."""
        follower_state = int(np.argmax(observations[FOLLOWER]))
        return {
            LEADER: observations[LEADER],
            FOLLOWER: follower_context_observation(follower_state, self.omega),
        }


def _check_game_env(game_env: Any) -> None:
    """A 2-player, 2-action :class:`IteratedMatrixGame` (5 memory-one states), or ValueError."""
    if not isinstance(game_env, IteratedMatrixGame):
        raise ValueError(f"game_env must be an IteratedMatrixGame; got {type(game_env).__name__}")
    game = game_env.game
    if game.num_players != 2 or game.num_actions != NUM_ACTIONS:
        raise ValueError(
            f"ContextQueryEnv needs a 2-player game with {NUM_ACTIONS} actions "
            f"({QUERY_STATES} states); got {game.name!r} with {game.num_players} players and "
            f"{game.num_actions} actions"
        )


def _leader_action(action: Any) -> int:
    """The leader's action as an int in ``[0, 1]``, or ValueError naming it."""
    try:
        index = operator.index(action)
    except TypeError:
        index = -1  # not an integer: reported below with the allowed range
    if isinstance(action, bool) or index not in range(NUM_ACTIONS):
        raise ValueError(
            f"Invalid action {action!r} for agent {LEADER!r}; allowed: an integer in "
            f"[0, {NUM_ACTIONS - 1}] (C, D)"
        )
    return index


def _check_agents(actions: dict[AgentID, Any], live: list[AgentID]) -> None:
    """Exactly the live agents act (the leader alone during the queries)."""
    if set(actions) != set(live):
        raise ValueError(
            f"Actions must be given for exactly the live agents {live}; got {sorted(actions)}"
        )
