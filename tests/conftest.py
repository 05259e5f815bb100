"""Shared fixtures: one Ray instance for the whole session (Ray start-up costs seconds)."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest


@pytest.fixture(scope="session")
def ray_instance():
    """A local Ray instance shared by every test that needs one, with our registrations."""
    import ray

    import rllib_meta
    from rllib_meta.cluster import runtime_env

    ray.init(
        num_cpus=2,
        include_dashboard=False,
        runtime_env=runtime_env(),
        logging_level="ERROR",
    )
    rllib_meta.register_all()
    yield ray
    ray.shutdown()


@pytest.fixture
def tiny_ppo_config() -> dict:
    """A PPO config for the IPD small enough for one iteration in a few seconds."""
    return {
        "env_config": {"horizon": 10},
        "multi_agent": {
            "policies": ["player_0", "player_1"],
            "policy_mapping_fn": "rllib_meta.multi_agent:module_per_agent",
        },
        "num_env_runners": 0,
        "train_batch_size_per_learner": 200,
        "minibatch_size": 100,
        "num_epochs": 1,
        "model_config": {"fcnet_hiddens": [8]},
        "seed": 0,
    }
