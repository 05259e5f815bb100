"""Environment names, config keys and error messages of envs.registry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from envs import env_names, make
from envs.matrix.iterated import IteratedMatrixGame
from envs.registry import REQUIRED, env_config_keys

COMMON_KEYS = {"reward_offset", "reward_scale", "own_first_observation", "render_mode"}


def test_env_names_sorted() -> None:
    assert env_names() == [
        "atari_trade",
        "battle_of_sexes",
        "halfcheetah_2x3",
        "ipd",
        "ipd_exact",
        "ipd_lola",
        "logistic_game",
        "matrix_game",
        "matrix_game_context",
        "pacman_world",
        "resource_occupation",
        "rps",
        "treasure_collection",
        "zero_sum_bilinear",
    ]


def test_config_keys_and_defaults() -> None:
    assert env_config_keys("ipd") == {
        "horizon": 150,
        "reward_offset": 0.0,
        "reward_scale": 1.0,
        "own_first_observation": False,
        "render_mode": None,
    }
    assert set(env_config_keys("rps")) == COMMON_KEYS | {"horizon", "num_players"}
    assert env_config_keys("matrix_game")["game"] is REQUIRED
    assert env_config_keys("matrix_game")["horizon"] == 10
    assert set(env_config_keys("battle_of_sexes")) == COMMON_KEYS | {"scaled"}


def test_defaults_reach_the_env() -> None:
    assert make("ipd").horizon == 150
    assert make("ipd_lola").game.name == "ipd_lola"
    assert make("rps").game.num_players == 2
    assert make("rps", num_players=4).possible_agents[-1] == "player_3"
    env = make("matrix_game", game="hero")
    assert isinstance(env, IteratedMatrixGame) and env.horizon == 10 and env.reward_offset == 0.0
    assert make("matrix_game", game="hero", center=True).reward_offset == -2.5
    assert make("battle_of_sexes").horizon == 1
    assert make("battle_of_sexes", scaled=True).game.payoffs[0, 0].tolist() == [2.0, 1.0]


def test_unknown_env_name_suggests_and_lists() -> None:
    with pytest.raises(ValueError, match=r"'ipd_lol'.*did you mean 'ipd_lola'.*allowed: \["):
        make("ipd_lol")
    with pytest.raises(ValueError, match="Unknown env 'cartpole'"):
        env_config_keys("cartpole")


def test_unknown_config_key_names_allowed_keys() -> None:
    allowed = sorted(env_config_keys("ipd"))
    with pytest.raises(ValueError, match=r"'horizn'.*did you mean 'horizon'") as error:
        make("ipd", horizn=10)
    assert str(allowed) in str(error.value)
    with pytest.raises(ValueError, match="'num_players' for env 'ipd'"):
        make("ipd", num_players=3)


def test_battle_of_sexes_horizon_is_fixed() -> None:
    with pytest.raises(ValueError, match="'horizon' is fixed at 1"):
        make("battle_of_sexes", horizon=5)


def test_matrix_game_requires_a_known_game() -> None:
    with pytest.raises(ValueError, match=r"Missing required config key\(s\) \['game'\]"):
        make("matrix_game")
    with pytest.raises(ValueError, match=r"'stag_hunter'.*stag_hunt"):
        make("matrix_game", game="stag_hunter")


@pytest.mark.parametrize(
    ("name", "config", "message"),
    [
        ("rps", {"num_players": 5}, r"num_players must be one of \[2, 3, 4\]; got 5"),
        ("ipd", {"horizon": 0}, "horizon must be an integer >= 1; got 0"),
        ("matrix_game", {"game": "hero", "center": "yes"}, "'center' must be a bool"),
        ("battle_of_sexes", {"scaled": 1}, "'scaled' must be a bool"),
        ("ipd", {"render_mode": "rgb_array"}, "render_mode must be None or one of"),
    ],
)
def test_bad_values(name: str, config: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make(name, **config)


def test_envs_package_does_not_import_ray() -> None:
    code = (
        "import sys, envs, envs.registry, envs.matrix.exact, envs.matrix.batched; "
        "envs.make('ipd'); sys.exit('ray' in sys.modules)"
    )
    repo_root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=repo_root
    )
    assert result.returncode == 0, result.stderr or "ray was imported"
