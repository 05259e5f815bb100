"""The learning-game envs of the differentiable games (envs.differentiable.learning_env) and their
registry rows ``logistic_game``, ``ipd_exact`` and ``zero_sum_bilinear``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pettingzoo.test import parallel_api_test, parallel_seed_test

from envs import make
from envs.differentiable.games import BilinearZeroSum, ExactIPD, LogisticGame
from envs.differentiable.learning_env import LearningGameEnv
from envs.registry import env_config_keys, env_description

NAMES = ["logistic_game", "ipd_exact", "zero_sum_bilinear"]
AGENTS = ["player_0", "player_1"]


@pytest.mark.parametrize("name", NAMES)
def test_parallel_api(name: str) -> None:
    parallel_api_test(make(name, horizon=7), num_cycles=1000)


@pytest.mark.parametrize("name", NAMES)
def test_parallel_seed(name: str) -> None:
    parallel_seed_test(lambda: make(name, horizon=5))


def test_registry_rows_defaults_and_games() -> None:
    assert env_config_keys("logistic_game") == {"horizon": 50, "max_step": 1.0}
    assert env_config_keys("zero_sum_bilinear") == {"horizon": 50, "max_step": 1.0}
    assert env_config_keys("ipd_exact") == {"horizon": 100, "max_step": 1.0, "discount": 0.96}
    assert "paper 004" in env_description("logistic_game")
    assert "paper 004" in env_description("ipd_exact")
    assert "paper 000" in env_description("zero_sum_bilinear")
    expected_games = {
        "logistic_game": LogisticGame,
        "ipd_exact": ExactIPD,
        "zero_sum_bilinear": BilinearZeroSum,
    }
    for name, game_type in expected_games.items():
        env = make(name)
        assert isinstance(env, LearningGameEnv) and isinstance(env.game, game_type)
        assert env.game.name == name  # algorithms look the game up by the env's name
    assert make("ipd_exact").game.discount == 0.96
    env = make("ipd_exact", discount=0.5, horizon=3, max_step=0.25)
    assert (env.game.discount, env.horizon, env.max_step) == (0.5, 3, 0.25)


@pytest.mark.parametrize(
    ("name", "config", "message"),
    [
        ("logistic_game", {"horizn": 5}, r"'horizn'.*did you mean 'horizon'"),
        ("logistic_game", {"discount": 0.9}, r"Unknown config key 'discount'.*allowed keys"),
        ("ipd_exact", {"horizon": 0}, "horizon must be an integer >= 1; got 0"),
        ("zero_sum_bilinear", {"horizon": 2.5}, "horizon must be an integer >= 1; got 2.5"),
        (
            "zero_sum_bilinear",
            {"max_step": -1.0},
            r"max_step must be a finite number > 0; got -1.0",
        ),
        ("logistic_game", {"max_step": 0}, "max_step must be a finite number > 0; got 0"),
        ("ipd_exact", {"max_step": float("inf")}, "max_step must be a finite number > 0; got inf"),
        ("ipd_exact", {"discount": 1.0}, r"discount must lie in \[0, 1\), got 1.0"),
        ("ipd_exact", {"discount": -0.5}, r"discount must lie in \[0, 1\), got -0.5"),
    ],
)
def test_bad_config(name: str, config: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make(name, **config)


def test_render_mode_must_be_none() -> None:
    with pytest.raises(ValueError, match=r"render_mode must be None.*'human'"):
        LearningGameEnv(LogisticGame(), horizon=3, render_mode="human")
    assert make("logistic_game").render() is None


@pytest.mark.parametrize("name", NAMES)
def test_reset_draws_the_games_start_distribution_reproducibly(name: str) -> None:
    env = make(name)
    observations, infos = env.reset(seed=11)
    expected = env.game.initial_policies(1, torch.Generator().manual_seed(11))[0].numpy()
    np.testing.assert_array_equal(env.joint_policy, expected)
    assert env.joint_policy.dtype == np.float32 and env.agents == AGENTS
    assert infos == {agent: {} for agent in AGENTS}
    for agent in AGENTS:
        assert env.observation_space(agent).contains(observations[agent])
    # Same seed, same start; another seed or an unseeded reset, another start.
    again = make(name)
    again.reset(seed=11)
    np.testing.assert_array_equal(again.joint_policy, env.joint_policy)
    again.reset(seed=12)
    assert not np.array_equal(again.joint_policy, env.joint_policy)
    first = env.joint_policy.copy()
    env.reset()
    assert not np.array_equal(env.joint_policy, first)
    # An unseeded reset continues the seeded stream: reproducible too.
    again.reset(seed=11)
    again.reset()
    np.testing.assert_array_equal(again.joint_policy, env.joint_policy)


def test_observations_put_the_observers_parameters_first() -> None:
    env = make("ipd_exact")
    observations, _ = env.reset(seed=0)
    x = env.joint_policy
    np.testing.assert_array_equal(observations["player_0"], np.concatenate([x[0], x[1]]))
    np.testing.assert_array_equal(observations["player_1"], np.concatenate([x[1], x[0]]))
    np.testing.assert_array_equal(env.state(), x.reshape(-1))
    assert observations["player_0"].shape == (10,) and env.action_space("player_0").shape == (5,)


@pytest.mark.parametrize("name", NAMES)
def test_step_adds_the_clipped_action_and_pays_f_at_the_new_state(name: str) -> None:
    max_step = 0.5
    env = make(name, max_step=max_step, horizon=4)
    env.reset(seed=3)
    num_params = env.game.num_params
    rng = np.random.default_rng(0)
    for _ in range(3):
        before = env.joint_policy.copy()
        # Some entries inside the box, some far outside it on either side.
        raw = {agent: rng.uniform(-2.0, 2.0, num_params).astype(np.float32) for agent in AGENTS}
        observations, rewards, terminations, truncations, infos = env.step(raw)
        clipped = np.stack([np.clip(raw[agent], -max_step, max_step) for agent in AGENTS])
        np.testing.assert_allclose(env.joint_policy, before + clipped, rtol=0, atol=1e-6)
        x = torch.as_tensor(env.joint_policy, dtype=torch.float64)
        values = env.game.values(x).tolist()
        assert [rewards[agent] for agent in AGENTS] == pytest.approx(values, abs=1e-12)
        assert terminations == dict.fromkeys(AGENTS, False)
        assert truncations == dict.fromkeys(AGENTS, False) and set(infos) == set(AGENTS)
        np.testing.assert_array_equal(observations["player_0"], env.state())
    assert any(np.abs(raw[agent]).max() > max_step for agent in AGENTS)  # clipping was exercised


def test_episode_terminates_after_horizon_steps() -> None:
    env = make("zero_sum_bilinear", horizon=3)
    env.reset(seed=0)
    zero = {agent: np.zeros(1, dtype=np.float32) for agent in AGENTS}
    for step in range(1, 4):
        _, _, terminations, truncations, _ = env.step(zero)
        assert terminations == dict.fromkeys(AGENTS, step == 3)
        assert not any(truncations.values())
    assert env.agents == [] and env.num_steps == 3
    with pytest.raises(RuntimeError, match="finished episode"):
        env.step(zero)


def test_bad_actions_are_refused() -> None:
    env = make("ipd_exact")
    env.reset(seed=0)
    good = np.zeros(5, dtype=np.float32)
    start = env.joint_policy.copy()
    with pytest.raises(ValueError, match=r"Missing actions for agents \['player_1'\]"):
        env.step({"player_0": good})
    with pytest.raises(ValueError, match=r"unknown or finished agents \['player_2'\]"):
        env.step({"player_0": good, "player_1": good, "player_2": good})
    with pytest.raises(ValueError, match=r"Invalid action .* 'player_1'; expected 5 finite"):
        env.step({"player_0": good, "player_1": np.zeros(3)})
    with pytest.raises(ValueError, match=r"Invalid action .* 'player_0'"):
        env.step({"player_0": np.full(5, np.nan), "player_1": good})
    assert env.num_steps == 0  # refused steps change nothing
    np.testing.assert_array_equal(env.joint_policy, start)


@pytest.mark.parametrize("name", NAMES)
def test_rllib_adapter_builds_and_steps(name: str) -> None:
    from ray.rllib.utils.pre_checks.env import check_multiagent_environments

    from envs.rllib_env import create_rllib_env

    env = create_rllib_env(name, {"horizon": 2, "max_step": 0.5})
    assert env.possible_agents == AGENTS
    check_multiagent_environments(env)
    observations, _ = env.reset(seed=0)
    assert list(observations) == AGENTS
    actions = {agent: env.action_spaces[agent].sample() for agent in AGENTS}
    _, rewards, terminateds, _, _ = env.step(actions)
    assert set(rewards) == set(AGENTS) and terminateds["__all__"] is False
    _, _, terminateds, truncateds, _ = env.step(actions)
    assert terminateds["__all__"] is True and truncateds["__all__"] is False


def test_building_the_learning_games_does_not_import_ray() -> None:
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys, envs; [envs.make(n) for n in ('logistic_game', 'ipd_exact', "
        "'zero_sum_bilinear')]; sys.exit('ray' in sys.modules)"
    )
    repo_root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=repo_root
    )
    assert result.returncode == 0, result.stderr or "ray was imported"
