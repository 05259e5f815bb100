"""The batched torch core agrees step for step with the PettingZoo env (one rule definition)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from envs.matrix.batched import BatchedIteratedMatrixGame
from envs.matrix.games import MatrixGame, battle_of_sexes, canonical_game, ipd, ipd_lola, rps
from envs.matrix.iterated import IteratedMatrixGame

CASES: list[tuple[Callable[[], MatrixGame], dict[str, float | bool]]] = [
    (ipd, {}),
    (ipd_lola, {"own_first_observation": True}),
    (lambda: canonical_game("chicken"), {"reward_offset": -2.5, "reward_scale": 3.0}),
    (lambda: rps(2), {"own_first_observation": True}),
    (lambda: rps(3), {"own_first_observation": True, "reward_scale": 0.5}),
    (lambda: rps(4), {}),
    (lambda: rps(4), {"own_first_observation": True}),
    (lambda: battle_of_sexes(scaled=True), {"own_first_observation": True}),
]


@pytest.mark.parametrize(("make_game", "options"), CASES)
def test_batched_core_matches_pettingzoo_env(
    make_game: Callable[[], MatrixGame], options: dict[str, float | bool]
) -> None:
    game, horizon, batch_size = make_game(), 7, 6
    rng = np.random.default_rng(0)
    core = BatchedIteratedMatrixGame(game, horizon, batch_size, dtype=torch.float64, **options)
    envs = [IteratedMatrixGame(game, horizon, **options) for _ in range(batch_size)]
    agents = envs[0].possible_agents

    core_obs = core.observations_one_hot(core.reset())
    env_obs = [env.reset()[0] for env in envs]
    for t in range(horizon):
        np.testing.assert_array_equal(core_obs.numpy(), [[o[a] for a in agents] for o in env_obs])
        actions = rng.integers(game.num_actions, size=(batch_size, game.num_players))
        indices, rewards, done = core.step(torch.as_tensor(actions))
        core_obs = core.observations_one_hot(indices)
        results = [
            env.step(dict(zip(agents, row, strict=True)))
            for env, row in zip(envs, actions.tolist(), strict=True)
        ]
        env_obs = [result[0] for result in results]
        env_rewards = [[result[1][a] for a in agents] for result in results]
        np.testing.assert_allclose(rewards.numpy(), env_rewards, rtol=0, atol=1e-12)
        assert done == (t == horizon - 1)
        assert all(all(result[2].values()) == done for result in results)
        assert core.t == t + 1
    np.testing.assert_array_equal(core_obs.numpy(), [[o[a] for a in agents] for o in env_obs])


def test_done_after_horizon_then_step_refused_until_reset() -> None:
    core = BatchedIteratedMatrixGame(ipd(), horizon=2, batch_size=3)
    start = core.reset()
    assert start.shape == (3, 2) and start.dtype == torch.long and not start.any()
    actions = torch.zeros(3, 2, dtype=torch.long)
    assert core.step(actions)[2] is False
    observed, rewards, done = core.step(actions)
    assert done is True
    assert observed.tolist() == [[1, 1]] * 3  # CC
    assert rewards.dtype == torch.float32 and rewards.tolist() == [[0.5, 0.5]] * 3
    with pytest.raises(RuntimeError, match="reset"):
        core.step(actions)
    core.reset()
    assert core.t == 0 and core.step(actions)[2] is False


def test_own_first_indices_for_known_joint_actions() -> None:
    core = BatchedIteratedMatrixGame(ipd(), horizon=3, batch_size=2, own_first_observation=True)
    core.reset()
    observed, rewards, _ = core.step(torch.tensor([[0, 1], [1, 0]]))  # CD, DC
    # player_1 sees its own action first: CD -> DC (3) and DC -> CD (2).
    assert observed.tolist() == [[2, 3], [3, 2]]
    assert core.state.tolist() == [2, 3]
    assert rewards.tolist() == [[-1.5, 1.5], [1.5, -1.5]]


def test_observations_one_hot() -> None:
    core = BatchedIteratedMatrixGame(rps(3), horizon=3, batch_size=4, dtype=torch.float64)
    one_hot = core.observations_one_hot(core.reset())
    assert one_hot.shape == (4, 3, 28) and one_hot.dtype == torch.float64
    assert one_hot[..., 0].eq(1).all() and one_hot.sum(-1).eq(1).all()


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        (torch.zeros(4, 2, dtype=torch.long), r"shape \(3, 2\)"),
        (torch.zeros(3, 3, dtype=torch.long), r"shape \(3, 2\)"),
        (torch.zeros(3, 2), "torch.long"),
        (torch.tensor([[0, 1], [2, 0], [0, 0]]), r"\[0, 1\]; got values in \[0, 2\]"),
        (torch.tensor([[0, 1], [-1, 0], [0, 0]]), r"\[0, 1\]; got values in \[-1, 1\]"),
    ],
)
def test_invalid_actions(actions: torch.Tensor, message: str) -> None:
    core = BatchedIteratedMatrixGame(ipd(), horizon=3, batch_size=3)
    core.reset()
    with pytest.raises(ValueError, match=message):
        core.step(actions)
    assert core.t == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"horizon": 0, "batch_size": 2}, "horizon must be an integer >= 1"),
        ({"horizon": 2, "batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"horizon": 2, "batch_size": 2, "dtype": torch.long}, "floating-point"),
    ],
)
def test_bad_constructor_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BatchedIteratedMatrixGame(ipd(), **kwargs)  # type: ignore[arg-type]
