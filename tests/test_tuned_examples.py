"""Every shipped tuned example parses and validates (no Ray needed)."""

import pytest

from rllib_meta.experiment import load_experiments, prepare
from rllib_meta.tuned_examples import tuned_examples

EXAMPLES = tuned_examples()


def test_the_issue_examples_exist():
    expected = {
        "ppo_ipd.yaml",
        "ppo_rps.yaml",
        "ppo_ipd_lr_grid.yaml",
        "meta_mapg_ipd.yaml",
        "meta_pg_ipd.yaml",
        "lola_dice_ipd.yaml",
        "reinforce_ipd.yaml",
        "meta_mapg_rps.yaml",
        "meta_mapg_rps_3p.yaml",
        "meta_mapg_ipd_om.yaml",
        "meta_mapg_ipd_k_sweep.yaml",
    }
    assert expected <= set(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_tuned_example_validates(name):
    for experiment in load_experiments(EXAMPLES[name]):
        prepared = prepare(experiment)
        assert prepared.param_space["env"] in ("ipd", "rps")
        if name == "meta_mapg_ipd_k_sweep.yaml":
            assert prepared.param_space["trajectories_per_step"] == {
                "grid_search": [4, 8, 16, 32, 64]
            }
