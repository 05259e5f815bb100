"""StackelbergMeta (paper 003): the tables, the phases, the exact checks, distribution, the
Q-learning baseline, the CLI and bad configuration (seeded runs and checkpoints:
tests/algorithms/test_reproducibility.py)."""

import json

import numpy as np
import pytest
import torch

import envs
from envs.matrix.stackelberg import (
    deterministic_returns,
    memory_one_policies,
    policy_index,
    stationary_best_response,
)
from rllib_meta.algorithms.stackelberg.algorithm import StackelbergMeta
from rllib_meta.algorithms.stackelberg.env_runner import StackelbergEnvRunner
from rllib_meta.algorithms.stackelberg.rl_module import NUM_CONTEXTS
from rllib_meta.algorithms.stackelberg.verification import follower_regrets, leader_report
from rllib_meta.cli import main
from tests import tiny_configs
from tests.cli import train_file

pytestmark = pytest.mark.slow

TINY = tiny_configs.STACKELBERG


def _config(game: str = "prisoners_dilemma", **settings):
    env_config = {**tiny_configs.STACKELBERG_ENV_CONFIG, "game": game}
    config = StackelbergMeta.get_default_config().environment("matrix_game", env_config=env_config)
    return config.update_from_dict({**TINY, **settings})


def _metrics(result) -> dict[str, float]:
    return {k: float(v) for k, v in result["stackelberg"].items()}


def _train(algorithm, iterations):
    return [_metrics(algorithm.train()) for _ in range(iterations)]


def _weights(algorithm) -> dict[str, np.ndarray]:
    tables = algorithm.learner_group._learner.tables
    return {name: layer.weight.detach().clone() for name, layer in tables.named_children()}


def _payoffs(game: str) -> torch.Tensor:
    return torch.tensor(np.array(envs.make("matrix_game", game=game).game.payoffs))


# -- tables and exact checks ---------------------------------------------------------------


def test_the_follower_table_is_indexed_by_state_and_context(ray_instance):
    algorithm = _config().build_algo()
    try:
        tables = algorithm.learner_group._learner.tables
        with torch.no_grad():
            tables.follower.weight.zero_()
            tables.follower.weight[1, 2 * NUM_CONTEXTS + 7] = 1.0  # state 2, leader 7: D
        greedy = tables.follower_greedy_table()
        assert greedy.shape == (32, 5)
        assert greedy[7, 2] == 1 and greedy.sum() == 1
        logits = tables.follower_logits(torch.tensor([2, 2]), torch.tensor([7, 6]))
        assert torch.equal(logits, torch.tensor([[0.0, 1.0], [0.0, 0.0]]))
    finally:
        algorithm.stop()


def test_leader_log_prob_of_an_answer_table_is_the_sum_over_the_queried_states(ray_instance):
    algorithm = _config().build_algo()
    try:
        tables = algorithm.learner_group._learner.tables
        with torch.no_grad():
            tables.leader.weight.copy_(torch.tensor([[0.0, 1.0, 0.0, 2.0, 0.0], [0.0] * 5]))
        answers = torch.tensor([[0, 0, 1, 1, 0]])
        log_pi = torch.log_softmax(tables.leader_scores(), dim=-1)
        expected = sum(log_pi[s, a] for s, a in enumerate(answers[0].tolist()))
        assert torch.allclose(tables.leader_log_probs(answers), expected.reshape(1))
        assert tables.leader_greedy().tolist() == [0, 0, 0, 0, 0]
    finally:
        algorithm.stop()


def test_the_exact_best_responder_has_zero_regret_and_reaches_the_optimum():
    from envs.matrix.stackelberg import stackelberg_optimum

    payoffs = _payoffs("prisoners_dilemma")
    _, _, best = stationary_best_response(payoffs, memory_one_policies(), 10)
    regrets = follower_regrets(payoffs, best, 10)
    assert regrets["follower_regret_mean"] == regrets["follower_regret_max"] == 0.0
    # A stationary follower cannot defect on the last step only: the time-aware DP does better.
    assert regrets["follower_regret_time_aware_max"] > 0.0
    optimum = stackelberg_optimum(payoffs, 10)
    report = leader_report(payoffs, optimum.leader_policy, best, 10, optimum)
    assert report["leader_return"] == report["optimum_leader_return"] == 31.0
    assert report["leader_gap"] == 0.0
    always_defect = torch.ones(5, dtype=torch.long)
    report = leader_report(payoffs, always_defect, best, 10, optimum)
    assert report["leader_return"] == report["leader_return_vs_best_response"] == 20.0


# -- phases ----------------------------------------------------------------------------------


def test_phases_train_one_side_at_a_time_and_count_their_steps(ray_instance):
    algorithm = _config().build_algo()
    try:
        start = _weights(algorithm)
        phase_1 = _train(algorithm, 2)
        after_1 = _weights(algorithm)
        phase_2 = _train(algorithm, 2)
        after_2 = _weights(algorithm)
        phase_3 = _train(algorithm, 2)
        after_3 = _weights(algorithm)
    finally:
        algorithm.stop()
    assert [m["phase"] for m in phase_1 + phase_2 + phase_3] == [1, 1, 2, 2, 3, 3]
    assert torch.equal(after_1["leader"], start["leader"])
    assert not torch.equal(after_1["follower"], start["follower"])
    assert torch.equal(after_2["follower"], after_1["follower"])  # frozen during phase 2
    assert not torch.equal(after_2["leader"], after_1["leader"])
    assert torch.equal(after_3["leader"], after_2["leader"])  # frozen during phase 3
    last = phase_3[-1]
    assert last["env_steps_pretraining"] == 2 * 4 * 10
    assert last["env_steps_leader_training"] == 2 * 6 * 10
    assert last["env_steps_verification"] == 2 * 4 * 10
    assert "verification_leader_change" in last


def test_the_leader_commits_to_its_answers_and_returns_are_on_the_payoff_scale(ray_instance):
    config = _config("chicken")
    runner = StackelbergEnvRunner(config=config)
    batch = runner.sample(phase="leader_training")
    answers = torch.from_numpy(batch["answers"])
    states = torch.from_numpy(batch["states"])
    played = torch.from_numpy(batch["actions"])[..., 0]
    assert torch.equal(played, answers.gather(1, states))
    follower = torch.from_numpy(batch["actions"])[..., 1]
    # The frozen follower plays greedily: the episode is the exact deterministic rollout.
    greedy = runner.module.follower_greedy_table()[policy_index(answers)]
    payoffs = _payoffs("chicken")
    expected = deterministic_returns(payoffs, answers, greedy, 10)
    assert np.allclose(batch["payoff_returns"], expected.numpy())
    step_payoffs = payoffs[played, follower]  # (B, 10, 2)
    assert np.allclose(batch["rewards"], (step_payoffs - 2.5).numpy())


def test_a_short_ppo_run_reaches_the_optimum_of_an_easy_game(ray_instance):
    settings = {
        "pretraining_iterations": 150,
        "follower_episodes_per_iteration": 10,
        "leader_iterations": 15,
        "leader_episodes_per_iteration": 100,
        "ppo_epochs": 30,
        "verification_iterations": 0,
        "seed": 0,
    }
    algorithm = _config("harmony", **settings).build_algo()
    try:
        metrics = _train(algorithm, 165)
    finally:
        algorithm.stop()
    assert metrics[0]["leader_return"] < 40.0
    assert metrics[-1]["leader_return"] == metrics[-1]["optimum_leader_return"] == 40.0
    assert metrics[149]["follower_regret_mean"] < metrics[0]["follower_regret_mean"]


# -- distribution ----------------------------------------------------------------------------


def test_two_env_runners_split_the_episodes(ray_instance):
    algorithm = _config(num_env_runners=2, leader_episodes_per_iteration=5).build_algo()
    try:
        metrics = _train(algorithm, 4)
    finally:
        algorithm.stop()
    assert metrics[-1]["env_steps_pretraining"] == 2 * 4 * 10
    assert metrics[-1]["env_steps_leader_training"] == 2 * 5 * 10


# -- the PPO + Q-learning baseline ---------------------------------------------------------


def test_q_learning_follower_learns_the_best_response_inside_one_leader_episode(ray_instance):
    config = _config(
        "prisoners_dilemma",
        follower_oracle="q_learning",
        pretraining_iterations=0,
        verification_iterations=0,
        q_learning_episodes=300,
        q_learning_epsilon=0.2,
    )
    runner = StackelbergEnvRunner(config=config)
    always_defect = torch.ones(6, 5, dtype=torch.long)
    batch = runner._q_learning_episodes(always_defect)
    # Against a leader that always defects, defecting every step is the only best response.
    assert np.all(batch["actions"][..., 1] == 1)
    assert int(batch["env_steps"]) == (300 + 1) * 6 * 10


def test_the_q_learning_baseline_trains_without_phases_1_and_3(ray_instance):
    settings = {
        "follower_oracle": "q_learning",
        "pretraining_iterations": 0,
        "verification_iterations": 0,
        "q_learning_episodes": 3,
    }
    algorithm = _config(**settings).build_algo()
    try:
        metrics = _train(algorithm, 2)
    finally:
        algorithm.stop()
    assert [m["phase"] for m in metrics] == [2, 2]
    assert metrics[-1]["env_steps_leader_training"] == 2 * 6 * (3 + 1) * 10
    assert "follower_regret_mean" not in metrics[-1]


# -- the command line and bad input ---------------------------------------------------------


def test_rllib_train_file_runs_the_12_game_sweep_file(ray_instance, tmp_path, monkeypatch):
    config = {"seed": 0, "env_config": {"game": "stag_hunt", "center": True, "horizon": 10}}
    assert train_file("stackelberg_ppo_12games.yaml", tmp_path, 3, config) == 0
    checkpoints = list(tmp_path.glob("stackelberg-ppo-12games/*/checkpoint_*"))
    assert len(checkpoints) == 1
    output = tmp_path / "verification"
    assert main(["evaluate", str(checkpoints[0]), "--output-dir", str(output)]) == 0
    (report,) = json.loads((output / "stackelberg_verification.json").read_text())
    assert report["game"] == "stag_hunt"
    assert report["optimum_leader_return"] == 40.0
    assert len(report["leader_answers"]) == 5 and set(report["leader_answers"]) <= {"C", "D"}
    assert 0.0 <= report["follower_regret_mean"] <= report["follower_regret_max"]

    # Without --output-dir: in the experiment directory, nothing in the working directory.
    experiment = tmp_path / "stackelberg-ppo-12games"
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    assert main(["evaluate", str(experiment)]) == 0
    written = json.loads((experiment / "evaluation" / "stackelberg_verification.json").read_text())
    assert written == [report]
    assert list(cwd.iterdir()) == []


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"leader_learner": "a2c"}, r"leader_learner must be one of \['pg', 'ppo', 'dqn'\]"),
        ({"follower_learner": "dqn"}, r"follower_learner must be one of \['pg', 'ppo'\]"),
        ({"follower_oracle": "oracle"}, r"follower_oracle must be one of \['contextual'"),
        ({"q_learning_epsilon": 1.5}, r"q_learning_epsilon must be a number in \[0.0, 1.0\]"),
        ({"pretraining_iterations": -1}, r"pretraining_iterations must be an integer >= 0"),
        ({"num_learners": 2}, r"num_learners=2"),
        (
            {"follower_oracle": "q_learning"},
            r"pretraining_iterations=2: follower_oracle 'q_learning' learns from scratch",
        ),
    ],
)
def test_bad_settings_are_refused_by_name(settings, message):
    with pytest.raises(ValueError, match=message):
        _config(**settings).validate()


def test_an_unknown_game_is_refused_with_the_allowed_names(ray_instance):
    with pytest.raises(ValueError, match=r"Unknown canonical game 'prisoner_dilemma'.*'chicken'"):
        _config("prisoner_dilemma").build_algo()


def test_an_unsupported_env_is_refused():
    config = _config().environment("ipd")
    with pytest.raises(ValueError, match=r"env must be one of \['matrix_game'\], got 'ipd'"):
        config.validate()


def test_env_runners_start_from_the_learners_random_tables(ray_instance):
    algorithm = _config(seed=5).build_algo()
    other_seed = _config(seed=6).build_algo()
    try:
        learner = _weights(algorithm)
        runner = {
            name: layer.weight for name, layer in algorithm.env_runner.module.named_children()
        }
        for name, value in learner.items():
            assert torch.equal(runner[name], value), name
        assert not torch.equal(learner["leader"], _weights(other_seed)["leader"])
    finally:
        algorithm.stop()
        other_seed.stop()


def test_the_dqn_leader_fits_an_additive_value_of_its_answers(ray_instance):
    """``Q(omega) = sum_s Q(s, omega_s)`` regressed on episode returns recovers the per-state
    action-value differences of a return that is additive in the answers."""
    settings = {"leader_learner": "dqn", "dqn_learning_starts": 0, "dqn_batch_size": 256}
    algorithm = _config(lr=0.05, **settings).build_algo()
    try:
        learner = algorithm.learner_group._learner
        gains = torch.tensor([3.0, -2.0, 1.0, 0.5, -1.0])  # return gained by answering D in s
        generator = torch.Generator().manual_seed(0)
        for _ in range(300):
            answers = torch.randint(2, (64, 5), generator=generator)
            rewards = torch.zeros(64, 10, 2)
            rewards[:, 0, 0] = (answers.float() * gains).sum(dim=1)
            learner.update_leader({"answers": answers.numpy(), "rewards": rewards.numpy()})
        values = learner.tables.leader_scores().detach()
    finally:
        algorithm.stop()
    assert torch.allclose(values[:, 1] - values[:, 0], gains, atol=0.05)
