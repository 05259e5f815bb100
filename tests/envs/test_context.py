"""Paper 003's context-query wrapper (envs.matrix.context): PettingZoo API, the exact encoding
of every observation, commitment checked against the exact Stackelberg rollouts, RLlib."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from pettingzoo.test import parallel_api_test, parallel_seed_test

from envs import make
from envs.matrix import stackelberg as st
from envs.matrix.context import QUERY_STATES, ContextQueryEnv, follower_context_observation
from envs.matrix.games import canonical_game, rps
from envs.matrix.iterated import IteratedMatrixGame

CONFIGS: list[dict[str, Any]] = [
    {"game": "chicken"},
    {"game": "prisoners_dilemma", "commit": False, "horizon": 3},
    {"game": "hero", "center": True, "own_first_observation": True, "render_mode": "ansi"},
]
# Follower tit-for-tat copies the leader's last action (the 1st digit): C, C, C, D, D.
FOLLOWER_TFT = [0, 0, 0, 1, 1]


def one_hot(index: int, size: int = 5) -> np.ndarray:
    vector = np.zeros(size, dtype=np.float32)
    vector[index] = 1.0
    return vector


def answer_queries(env: ContextQueryEnv, omega: list[int]) -> dict[str, np.ndarray]:
    env.reset(seed=0)
    for answer in omega:
        observations, *_ = env.step({"player_0": answer})
    return observations


def play(
    env: ContextQueryEnv, omega: list[int], leader: list[int], follower: list[int]
) -> tuple[list[float], list[int]]:
    """Answer ``omega``, then play stationary tables (indexed by the observed state); returns
    the game returns and the leader's played actions."""
    observations = answer_queries(env, omega)
    totals, played = [0.0, 0.0], []
    while env.agents:
        leader_state = int(np.argmax(observations["player_0"]))
        follower_state = int(np.argmax(observations["player_1"][:QUERY_STATES]))
        actions = {"player_0": leader[leader_state], "player_1": follower[follower_state]}
        observations, rewards, _, _, infos = env.step(actions)
        totals = [totals[0] + rewards["player_0"], totals[1] + rewards["player_1"]]
        played.append(infos["player_0"]["played"])
    return totals, played


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(map(str, c.values())))
def test_parallel_api(config: dict[str, Any]) -> None:
    parallel_api_test(make("matrix_game_context", **config), num_cycles=1000)
    parallel_seed_test(lambda: make("matrix_game_context", **config))


def test_observations_rewards_and_infos_at_every_step() -> None:
    env = make("matrix_game_context", game="chicken", horizon=2)
    assert env.observation_space("player_0").shape == (5,)
    assert env.observation_space("player_1").shape == (10,)
    observations, infos = env.reset(seed=0)
    assert env.agents == ["player_0"]
    np.testing.assert_array_equal(observations["player_0"], one_hot(0))
    assert list(observations) == ["player_0"] and infos == {"player_0": {"query": True}}
    omega = [1, 0, 1, 1, 0]
    for k, answer in enumerate(omega):
        observations, rewards, terminations, _, infos = env.step({"player_0": answer})
        assert infos["player_0"]["answer"] == answer
        if k < 4:  # the next query
            assert env.agents == ["player_0"] and rewards == {"player_0": 0.0}
            np.testing.assert_array_equal(observations["player_0"], one_hot(k + 1))
            assert infos["player_0"]["query"] is True and not terminations["player_0"]
    # The follower joined: both observe the start state, the follower with the answers.
    assert env.agents == ["player_0", "player_1"] and infos["player_0"]["query"] is False
    assert rewards == {"player_0": 0.0, "player_1": 0.0}
    np.testing.assert_array_equal(observations["player_0"], one_hot(0))
    expected = np.array([1, 0, 0, 0, 0, 1, 0, 1, 1, 0], dtype=np.float32)
    np.testing.assert_array_equal(observations["player_1"], expected)
    assert observations["player_1"].dtype == np.float32
    # Committed: the leader plays omega[start] = D whatever it sends; follower C -> DC (4, 2).
    observations, rewards, _, _, infos = env.step({"player_0": 0, "player_1": 0})
    assert rewards == {"player_0": 4.0, "player_1": 2.0}
    assert infos["player_0"]["played"] == 1 and infos["player_1"]["joint_action"] == (1, 0)
    assert infos["player_0"]["omega"] == (1, 0, 1, 1, 0) and infos["player_0"]["query"] is False
    np.testing.assert_array_equal(observations["player_0"], one_hot(3))
    np.testing.assert_array_equal(observations["player_1"], np.r_[one_hot(3), expected[5:]])
    # In DC the answer is D (the leader sends C); the follower defects -> DD (1, 1); the end.
    _, rewards, terminations, truncations, infos = env.step({"player_0": 0, "player_1": 1})
    assert rewards == {"player_0": 1.0, "player_1": 1.0} and infos["player_0"]["played"] == 1
    assert terminations == {"player_0": True, "player_1": True}
    assert truncations == {"player_0": False, "player_1": False} and env.agents == []


@pytest.mark.parametrize("name", ["prisoners_dilemma", "chicken", "battle"])
def test_committed_returns_equal_exact_rollouts_for_every_answer_table(name: str) -> None:
    env = make("matrix_game_context", game=name)
    follower = torch.tensor(FOLLOWER_TFT)
    expected = st.deterministic_returns(
        canonical_game(name).payoffs, st.memory_one_policies(), follower, 10
    )
    for index, omega in enumerate(st.memory_one_policies().tolist()):
        # The leader's in-game choices are the opposite of its answers: commitment overrides them.
        contrary = [1 - a for a in omega]
        returns, _ = play(env, omega, contrary, FOLLOWER_TFT)
        assert returns == expected[index].tolist(), omega


def test_uncommitted_leader_plays_its_own_actions() -> None:
    env = make("matrix_game_context", game="prisoners_dilemma", commit=False)
    omega = [0, 0, 0, 0, 0]  # claims always-C ...
    always_d = [1, 1, 1, 1, 1]  # ... but defects
    returns, played = play(env, omega, always_d, FOLLOWER_TFT)
    assert played == [1] * 10
    # Follower TFT against always-D: DC (4, 1) once, then DD (2, 2) nine times.
    assert returns == [4.0 + 18.0, 1.0 + 18.0]
    committed = make("matrix_game_context", game="prisoners_dilemma")
    assert play(committed, omega, always_d, FOLLOWER_TFT) == ([30.0, 30.0], [0] * 10)


def test_centred_rewards_and_own_first_follower_state() -> None:
    env = make("matrix_game_context", game="hero", center=True, own_first_observation=True)
    omega = [0, 1, 0, 1, 0]
    follower = [1, 0, 1, 1, 0]  # indexed by the follower's own-first state
    returns, _ = play(env, omega, omega, follower)
    # The follower's own-first state swaps CD and DC; in canonical states its table is:
    canonical_follower = torch.tensor([follower[s] for s in (0, 1, 3, 2, 4)])
    raw = st.deterministic_returns(
        canonical_game("hero").payoffs, torch.tensor(omega), canonical_follower, 10
    )
    np.testing.assert_allclose(returns, (raw - 2.5 * 10).tolist())


def test_follower_context_observation_batches_and_checks() -> None:
    np.testing.assert_array_equal(
        follower_context_observation(2, np.array([1, 1, 0, 0, 1])),
        np.array([0, 0, 1, 0, 0, 1, 1, 0, 0, 1], dtype=np.float32),
    )
    states = np.array([[0, 4], [1, 3]])
    omega = st.memory_one_policies()[:2].numpy()  # (2, 5), broadcast over the first dim
    batch = follower_context_observation(states, omega[:, None, :])
    assert batch.shape == (2, 2, 10) and batch.dtype == np.float32
    np.testing.assert_array_equal(batch[1, 0], np.r_[one_hot(1), omega[1]])
    np.testing.assert_array_equal(batch[0, 1], np.r_[one_hot(4), omega[0]])
    with pytest.raises(ValueError, match=r"state must be integer\(s\) in \[0, 4\]; got 5"):
        follower_context_observation(5, np.zeros(5))
    with pytest.raises(ValueError, match=r"omega must have shape \(\.\.\., 5\)"):
        follower_context_observation(0, np.zeros(4))
    with pytest.raises(ValueError, match=r"omega entries must be actions in \[0, 1\]"):
        follower_context_observation(0, np.full(5, 0.5))


def test_render_shows_queries_then_the_game() -> None:
    env = make("matrix_game_context", game="chicken", render_mode="ansi", horizon=1)
    env.reset()
    assert env.render() == "query 0/5: answers so far -"
    for answer in (1, 0, 0, 1, 1):
        env.step({"player_0": answer})
    env.step({"player_0": 0, "player_1": 0})
    assert env.render() == "chicken step 1/1: DC payoffs (4, 2) | omega 10011"


def test_rllib_registration_and_sampling() -> None:
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.env.multi_agent_env_runner import MultiAgentEnvRunner
    from ray.rllib.utils.pre_checks.env import check_multiagent_environments
    from ray.tune.registry import ENV_CREATOR, _global_registry

    import rllib_meta
    from rllib_meta.multi_agent import module_per_agent

    rllib_meta.register_all()
    config = {"game": "prisoners_dilemma", "horizon": 4}
    env = _global_registry.get(ENV_CREATOR, "matrix_game_context")(config)
    check_multiagent_environments(env)
    ppo = (
        PPOConfig()
        .environment("matrix_game_context", env_config=config)
        .multi_agent(policies={"player_0", "player_1"}, policy_mapping_fn=module_per_agent)
        .debugging(seed=0)
    )
    runner = MultiAgentEnvRunner(config=ppo)
    for episode in runner.sample(num_episodes=2, random_actions=True):
        leader, follower = episode.agent_episodes["player_0"], episode.agent_episodes["player_1"]
        assert episode.is_done and len(leader) == 5 + 4 and len(follower) == 4
        assert [info["query"] for info in leader.get_infos()] == [True] * 5 + [False] * 5
        assert follower.get_observations()[0].shape == (10,)
    runner.stop()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"game": "chickn"}, r"Unknown canonical game 'chickn'; allowed: \['assurance', "),
        ({"game": "chicken", "commit": 1}, "'commit' must be a bool"),
        ({"game": "chicken", "horizon": 0}, "horizon must be an integer >= 1"),
        ({"game": "chicken", "comit": True}, "did you mean 'commit'"),
    ],
)
def test_bad_config(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make("matrix_game_context", **config)


def test_bad_construction_and_actions() -> None:
    game_env = IteratedMatrixGame(canonical_game("chicken"), horizon=2)
    with pytest.raises(ValueError, match="commit must be a bool"):
        ContextQueryEnv(game_env, commit="yes")
    with pytest.raises(ValueError, match="2-player game with 2 actions"):
        ContextQueryEnv(IteratedMatrixGame(rps(), horizon=2))
    with pytest.raises(ValueError, match="game_env must be an IteratedMatrixGame"):
        ContextQueryEnv(canonical_game("chicken"))
    env = ContextQueryEnv(game_env)
    env.reset()
    with pytest.raises(ValueError, match=r"exactly the live agents \['player_0'\]"):
        env.step({"player_0": 0, "player_1": 0})
    with pytest.raises(ValueError, match=r"Invalid action 2 for agent 'player_0'.*\[0, 1\]"):
        env.step({"player_0": 2})
    for _ in range(5):
        env.step({"player_0": 0})
    with pytest.raises(ValueError, match="Invalid action True"):
        env.step({"player_0": True, "player_1": 0})
    with pytest.raises(ValueError, match="Invalid action 3 for agent 'player_1'"):
        env.step({"player_0": 0, "player_1": 3})
