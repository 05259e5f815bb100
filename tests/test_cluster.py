"""A simulated two-node Ray cluster: EnvRunners placed on the second node build our envs.

Runs in a subprocess: the cluster must not collide with the session's shared Ray instance.
"""

import json
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent(
    """
    import json
    import ray
    from rllib_meta.cluster import ray_session
    from rllib_meta.experiment import Experiment, prepare

    config = {
        "env": "ipd",
        "env_config": {"horizon": 10},
        "num_env_runners": 1,
        "custom_resources_per_env_runner": {"node_1": 1},
        "train_batch_size_per_learner": 100,
        "minibatch_size": 50,
        "num_epochs": 1,
        "model_config": {"fcnet_hiddens": [8]},
    }
    with ray_session(num_cpus=2, num_nodes=2):
        prepared = prepare(Experiment(name="two-nodes", run="PPO", config=config))
        algorithm = prepared.algorithm_class(config=prepared.param_space)
        result = algorithm.train()
        runner_nodes = algorithm.env_runner_group.foreach_env_runner(
            lambda runner: ray.get_runtime_context().get_node_id(), local_env_runner=False
        )
        second_node = [n["NodeID"] for n in ray.nodes() if "node_1" in n["Resources"]]
        print(json.dumps({
            "nodes": len(ray.nodes()),
            "runner_nodes": runner_nodes,
            "second_node": second_node,
            "driver_node": ray.get_runtime_context().get_node_id(),
            "steps": result["env_runners"]["num_env_steps_sampled_lifetime"],
        }))
        algorithm.stop()
    """
)


def test_env_runners_on_a_second_node_sample_registered_env(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,  # not the repo: the workers must find the installed package
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["nodes"] == 2
    assert report["runner_nodes"] == report["second_node"]
    assert report["runner_nodes"][0] != report["driver_node"]
    assert report["steps"] >= 100
