"""Ray for one command: start locally, join a running cluster, or simulate several nodes."""

import contextlib
import os
from collections.abc import Iterator

from rllib_meta.errors import ConfigError
from rllib_meta.registry import register_all

SIMULATED_NODE_SLOTS = 1000  # units of a simulated node's "node_i" resource


def runtime_env() -> dict:
    """Environment variables of every Ray worker of a command (the job's runtime_env)."""
    return {
        "env_vars": {
            # One OpenMP/torch thread per worker unless the user set OMP_NUM_THREADS: on small
            # CPUs the default thread count makes tiny models 5-20x slower.
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
            # A fixed string-hash seed unless the user set one: RLlib's multi-agent sampling
            # iterates over sets of agent ids, so under Python's per-process hash randomisation
            # a seeded run sampled differently in every process (tests/test_reproducibility.py).
            "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "0"),
        }
    }


def _node_args(index: int, num_cpus: int) -> dict:
    # Node i of a simulated cluster carries the custom resource "node_i", so a config can
    # place actors on it, e.g. `custom_resources_per_env_runner: {node_1: 1}`.
    return {"num_cpus": num_cpus, "resources": {f"node_{index}": SIMULATED_NODE_SLOTS}}


@contextlib.contextmanager
def ray_session(
    address: str | None = None, num_cpus: int | None = None, num_nodes: int = 1
) -> Iterator[None]:
    """Run the body with Ray up, and rllib-meta's envs/algorithms registered in this job.

    ``address="auto"`` joins a running cluster; ``num_nodes > 1`` starts a local simulated
    cluster (``ray.cluster_utils.Cluster``) with ``num_cpus`` split across the nodes, node ``i``
    carrying the custom resource ``node_i``. If Ray is already initialised (tests, notebooks),
    it is reused and left running.
    """
    import ray

    if num_nodes < 1:
        raise ConfigError(f"--ray-num-nodes must be >= 1, got {num_nodes}.")
    if num_cpus is not None and num_cpus < 1:
        raise ConfigError(f"--ray-num-cpus must be >= 1, got {num_cpus}.")
    if num_nodes > 1 and address:
        raise ConfigError(
            "--ray-num-nodes simulates a local cluster; it cannot join --ray-address."
        )
    if ray.is_initialized():
        register_all()  # Tune's registry is per Ray job: make sure this job has our entries.
        yield
        return

    cluster = None
    init_args = {"runtime_env": runtime_env(), "include_dashboard": False}
    if num_nodes > 1:
        from ray.cluster_utils import Cluster

        cpus_per_node = max(1, (num_cpus or os.cpu_count() or 1) // num_nodes)
        cluster = Cluster(initialize_head=True, head_node_args=_node_args(0, cpus_per_node))
        for index in range(1, num_nodes):
            cluster.add_node(**_node_args(index, cpus_per_node))
        ray.init(address=cluster.address, **init_args)
    elif address:
        ray.init(address=address, **init_args)
    else:
        ray.init(num_cpus=num_cpus, **init_args)
    try:
        register_all()
        yield
    finally:
        ray.shutdown()
        if cluster is not None:
            cluster.shutdown()
