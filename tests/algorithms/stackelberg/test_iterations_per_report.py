"""``iterations_per_report`` (issue 16, item 3): several algorithm steps per training iteration
give the run that reporting after every step gives: the same final report (exact checks,
regrets, phase 3's changes), environment-step counts, greedy tables and checkpoint state."""

import numpy as np
import pytest

from rllib_meta.algorithms.stackelberg.algorithm import METRICS, StackelbergMeta
from tests import tiny_configs

pytestmark = pytest.mark.slow

# 9 steps: phase 1 (2), phase 2 (3), phase 3 (4): in reports of 3 steps, phase 1 ends inside
# the first report and phase 2 inside the second.
SETTINGS = {
    **tiny_configs.STACKELBERG,
    "pretraining_iterations": 2,
    "leader_iterations": 3,
    "verification_iterations": 4,
    # A leader step this large changes the greedy pair inside phase 2 (its returns at steps 3
    # and 5 differ), so phase 3's changes depend on measuring them from the phase boundary.
    "lr": 0.2,
}


def _run(iterations_per_report: int, reports: int):
    config = StackelbergMeta.get_default_config().environment(
        "matrix_game", env_config=tiny_configs.STACKELBERG_ENV_CONFIG
    )
    config = config.update_from_dict({**SETTINGS, "iterations_per_report": iterations_per_report})
    algorithm = config.build_algo()
    try:
        results = [algorithm.train() for _ in range(reports)]
        (tables,) = algorithm.learner_group.foreach_learner(lambda learner: learner.greedy_tables())
        return results, [np.asarray(t) for t in tables.get()], algorithm.steps_done
    finally:
        algorithm.stop()


def test_three_steps_per_report_end_where_one_step_per_report_ends(ray_instance):
    every_step, every_tables, every_done = _run(1, 9)
    grouped, grouped_tables, grouped_done = _run(3, 3)
    assert every_done == grouped_done == 9
    final, grouped_final = every_step[-1][METRICS], grouped[-1][METRICS]
    assert set(final) == set(grouped_final)
    for key, value in final.items():
        assert grouped_final[key] == pytest.approx(value, rel=1e-12, nan_ok=True), key
    assert final["phase"] == 3.0 and "verification_leader_change" in final
    for table, grouped_table in zip(every_tables, grouped_tables, strict=True):
        np.testing.assert_array_equal(table, grouped_table)
    # Phase 2's sample efficiency at step resolution: the leader-training env steps until the
    # greedy leader first had its current return, as the every-step rows show it.
    rows = [r[METRICS] for r in every_step if r[METRICS]["phase"] == 2.0]
    for index, row in enumerate(rows):
        first = next(r for r in rows[: index + 1] if r["leader_return"] == row["leader_return"])
        assert row["leader_steps_to_current_return"] == first["env_steps_leader_training"]
    assert len({r["leader_return"] for r in rows}) > 1  # the leader's return changes here
    assert grouped[0][METRICS]["leader_steps_to_current_return"] == pytest.approx(
        every_step[2][METRICS]["leader_steps_to_current_return"]
    )
    # Reports 1 and 2 of the grouped run equal the every-step run's reports 3 and 6.
    for grouped_report, every_report in ((grouped[0], every_step[2]), (grouped[1], every_step[5])):
        assert grouped_report[METRICS]["phase"] == every_report[METRICS]["phase"]
        assert grouped_report[METRICS]["leader_return"] == pytest.approx(
            every_report[METRICS]["leader_return"], rel=1e-12
        )


def test_a_grouped_run_restores_and_continues_identically(ray_instance, tmp_path):
    config = StackelbergMeta.get_default_config().environment(
        "matrix_game", env_config=tiny_configs.STACKELBERG_ENV_CONFIG
    )
    config = config.update_from_dict({**SETTINGS, "iterations_per_report": 2})
    algorithm = config.build_algo()
    try:
        algorithm.train()
        path = algorithm.save_to_path(str(tmp_path / "checkpoint"))
        continued = algorithm.train()[METRICS]
    finally:
        algorithm.stop()
    restored = config.build_algo()
    try:
        restored.restore_from_path(path)
        assert restored.steps_done == 2
        again = restored.train()[METRICS]
    finally:
        restored.stop()
    assert again == pytest.approx(continued, rel=1e-12, nan_ok=True)
