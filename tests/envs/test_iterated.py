"""The PettingZoo iterated matrix game env (envs.matrix.iterated) and its registered variants."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

from envs import make
from envs.matrix.games import CANONICAL_GAME_NAMES, ipd, rps
from envs.matrix.iterated import IteratedMatrixGame

NAMED_CONFIGS: list[tuple[str, dict[str, Any]]] = [
    ("ipd", {}),
    ("ipd", {"own_first_observation": True, "horizon": 20}),
    ("ipd_lola", {}),
    ("rps", {"num_players": 2}),
    ("rps", {"num_players": 3, "horizon": 30}),
    ("rps", {"num_players": 4, "horizon": 30, "own_first_observation": True}),
    *[("matrix_game", {"game": name}) for name in CANONICAL_GAME_NAMES],
    ("matrix_game", {"game": "chicken", "center": True, "own_first_observation": True}),
    ("battle_of_sexes", {}),
    ("battle_of_sexes", {"scaled": True, "render_mode": "ansi"}),
]


def config_id(config: tuple[str, dict[str, Any]]) -> str:
    name, kwargs = config
    return "-".join([name, *(f"{k}={v}" for k, v in kwargs.items())])


@pytest.mark.parametrize("config", NAMED_CONFIGS, ids=config_id)
def test_parallel_api(config: tuple[str, dict[str, Any]]) -> None:
    name, kwargs = config
    parallel_api_test(make(name, **kwargs), num_cycles=1000)


@pytest.mark.parametrize("config", NAMED_CONFIGS[:6], ids=config_id)
def test_parallel_seed(config: tuple[str, dict[str, Any]]) -> None:
    name, kwargs = config
    parallel_seed_test(lambda: make(name, **kwargs))


def one_hot(index: int, size: int) -> np.ndarray:
    vector = np.zeros(size, dtype=np.float32)
    vector[index] = 1.0
    return vector


def test_reset_observes_the_start_state_with_empty_infos() -> None:
    env = IteratedMatrixGame(ipd(), horizon=3)
    observations, infos = env.reset(seed=3)
    assert env.agents == ["player_0", "player_1"] == env.possible_agents
    for agent in env.agents:
        np.testing.assert_array_equal(observations[agent], one_hot(0, 5))
        assert observations[agent].dtype == np.float32
        assert env.observation_space(agent).contains(observations[agent])
    assert infos == {"player_0": {}, "player_1": {}}


@pytest.mark.parametrize(("own_first", "player_1_state"), [(False, 2), (True, 3)])
def test_observation_after_cd(own_first: bool, player_1_state: int) -> None:
    env = IteratedMatrixGame(ipd(), horizon=5, own_first_observation=own_first)
    env.reset()
    observations, rewards, *_ = env.step({"player_0": 0, "player_1": 1})  # C, D
    np.testing.assert_array_equal(observations["player_0"], one_hot(2, 5))  # CD
    # Own-first: player_1 sees its own D first, i.e. "DC" = state 3.
    np.testing.assert_array_equal(observations["player_1"], one_hot(player_1_state, 5))
    np.testing.assert_array_equal(env.state(), one_hot(2, 5))
    assert rewards == {"player_0": -1.5, "player_1": 1.5}


def test_three_player_rps_own_first_observation() -> None:
    env = IteratedMatrixGame(rps(3), horizon=2, own_first_observation=True)
    env.reset()
    observations, rewards, *_ = env.step({"player_0": 0, "player_1": 1, "player_2": 2})  # R P S
    # Seen as (own, others ascending): p0 (R,P,S), p1 (P,R,S), p2 (S,R,P); state 1 + 9a + 3b + c.
    expected = {"player_0": 1 + 0 + 3 + 2, "player_1": 1 + 9 + 0 + 2, "player_2": 1 + 18 + 0 + 1}
    for agent, state in expected.items():
        np.testing.assert_array_equal(observations[agent], one_hot(state, 28))
    assert rewards == {"player_0": 0.0, "player_1": 0.0, "player_2": 0.0}


def test_episode_terminates_exactly_at_horizon() -> None:
    env = IteratedMatrixGame(ipd(), horizon=3)
    env.reset()
    actions = {"player_0": 1, "player_1": 1}
    for _ in range(2):
        _, _, terminations, truncations, _ = env.step(actions)
        assert not any(terminations.values()) and not any(truncations.values())
        assert env.agents == ["player_0", "player_1"]
    observations, _, terminations, truncations, _ = env.step(actions)
    assert terminations == {"player_0": True, "player_1": True}
    assert truncations == {"player_0": False, "player_1": False}
    assert set(observations) == {"player_0", "player_1"}  # final observation still delivered
    assert env.agents == []
    with pytest.raises(RuntimeError, match="reset"):
        env.step(actions)
    env.reset()
    assert env.agents == ["player_0", "player_1"] and env.num_steps == 0


def test_rewards_are_offset_and_scaled_while_infos_carry_raw_payoffs() -> None:
    env = IteratedMatrixGame(ipd(), horizon=2, reward_offset=1.0, reward_scale=-2.0)
    env.reset()
    _, rewards, _, _, infos = env.step({"player_0": 1, "player_1": 0})  # D, C
    assert rewards == {"player_0": (1.5 + 1.0) * -2.0, "player_1": (-1.5 + 1.0) * -2.0}
    assert infos["player_0"] == {"payoff": 1.5, "joint_action": (1, 0)}
    assert infos["player_1"] == {"payoff": -1.5, "joint_action": (1, 0)}


def test_centred_canonical_game_combines_offsets() -> None:
    env = make("matrix_game", game="stag_hunt", center=True, reward_offset=1.0, reward_scale=2.0)
    env.reset()
    _, rewards, _, _, infos = env.step({"player_0": 0, "player_1": 1})  # C, D -> (1, 3)
    assert rewards == {"player_0": (1 - 2.5 + 1.0) * 2.0, "player_1": (3 - 2.5 + 1.0) * 2.0}
    assert [infos[a]["payoff"] for a in ("player_0", "player_1")] == [1.0, 3.0]


def test_centring_maps_ordinal_payoffs_to_symmetric_range() -> None:
    env = make("matrix_game", game="prisoners_dilemma", center=True)
    seen = set()
    for joint in [(0, 0), (0, 1), (1, 0), (1, 1)]:
        env.reset()
        _, rewards, *_ = env.step(dict(zip(env.possible_agents, joint, strict=True)))
        seen |= set(rewards.values())
    assert seen == {-1.5, -0.5, 0.5, 1.5}


def test_ansi_render() -> None:
    env = IteratedMatrixGame(ipd(), horizon=4, render_mode="ansi")
    env.reset()
    assert env.render() == "ipd step 0/4: start"
    env.step({"player_0": 0, "player_1": 1})
    assert env.render() == "ipd step 1/4: CD payoffs (-1.5, 1.5)"
    with pytest.warns(UserWarning, match="without a render_mode"):
        assert IteratedMatrixGame(ipd(), horizon=4).render() is None


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        ({"player_0": 2, "player_1": 0}, r"action 2 for agent 'player_0'.*\[0, 1\]"),
        ({"player_0": 0, "player_1": -1}, r"action -1 for agent 'player_1'.*\[0, 1\]"),
        ({"player_0": 0.0, "player_1": 0}, r"action 0.0 for agent 'player_0'"),
        ({"player_0": 0}, r"Missing actions for agents \['player_1'\].*\[0, 1\]"),
        ({"player_0": 0, "player_1": 0, "player_9": 0}, r"unknown or finished agents"),
    ],
)
def test_invalid_actions_are_refused(actions: dict[str, Any], message: str) -> None:
    env = IteratedMatrixGame(ipd(), horizon=4)
    env.reset()
    with pytest.raises(ValueError, match=message):
        env.step(actions)
    assert env.num_steps == 0  # nothing was applied


def test_numpy_integer_actions_are_accepted() -> None:
    env = IteratedMatrixGame(rps(2), horizon=4)
    env.reset()
    _, rewards, *_ = env.step({"player_0": np.int64(1), "player_1": np.array(0)})  # P beats R
    assert rewards == {"player_0": 1.0, "player_1": -1.0}


@pytest.mark.parametrize("horizon", [0, -3, 1.5, True, "10"])
def test_bad_horizon(horizon: object) -> None:
    with pytest.raises(ValueError, match=f"horizon must be an integer >= 1; got {horizon!r}"):
        IteratedMatrixGame(ipd(), horizon=horizon)  # type: ignore[arg-type]


def test_bad_render_mode() -> None:
    with pytest.raises(ValueError, match=r"render_mode.*\['ansi'\].*'human'"):
        IteratedMatrixGame(ipd(), horizon=2, render_mode="human")
