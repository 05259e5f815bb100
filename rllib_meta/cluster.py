"""Ray for one command: start locally, join a running cluster, or simulate several nodes."""

import contextlib
import os
import socket
import time
from collections.abc import Iterator, Mapping, Sequence

from rllib_meta.errors import ConfigError
from rllib_meta.registry import register_all

SIMULATED_NODE_SLOTS = 1000  # units of a simulated node's "node_i" resource
CONNECT_TIMEOUT_S = 5.0  # how long --ray-address may take to answer
# How long a joined cluster (which an autoscaler may grow) may take to offer a trial's resources.
RESOURCE_WAIT_S = float(os.environ.get("RLLIB_META_RESOURCE_WAIT_S", "60"))


def runtime_env(quiet: bool = False) -> dict:
    """The job's runtime_env: environment variables of every Ray worker, and with ``quiet``
    the filters of Ray's known harmless messages (:mod:`rllib_meta.quiet`) in each worker."""
    env = {
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
    if quiet:
        from rllib_meta.quiet import WORKER_SETUP_HOOK

        env["worker_process_setup_hook"] = WORKER_SETUP_HOOK
    return env


def check_reachable(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Refuse a ``--ray-address`` that does not answer within ``timeout_s``.

    ``ray.init`` retries an unreachable GCS for minutes; one TCP connect tells at once.
    ``auto`` (and ``local``) are left to Ray, which fails fast when no cluster is running.
    """
    if address in ("auto", "local"):
        return
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(
            f"--ray-address {address!r}: expected HOST:PORT of a Ray head node (its GCS, "
            "default port 6379), ray://HOST:PORT for Ray Client, or 'auto'."
        )
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as error:
        timed_out = isinstance(error, TimeoutError)
        reason = f"no answer within {timeout_s:g}s" if timed_out else error.strerror or error
        raise ConfigError(
            f"--ray-address {address!r}: cannot reach a Ray cluster there ({reason}). Start "
            "one with `ray start --head` and give the address it "
            "prints, use --ray-address auto for one on this machine, or leave the flag out "
            "to start a local Ray."
        ) from None


def _is_terminal_foreground_job() -> bool:
    try:
        with open("/dev/tty") as tty:
            return os.tcgetpgrp(tty.fileno()) == os.getpgrp()
    except OSError:  # no controlling terminal (cron, CI, nohup, timeout's child)
        return False


def leave_supervisor_process_group() -> bool:
    """Put this command and the Ray it starts in a process group of their own, unless it is
    a terminal's foreground job (Ctrl-C must still reach it). Returns whether it moved.

    `timeout` (and supervisors like it) send SIGTERM to the child and then to their whole
    process group: Ray's GCS and raylet, started by ``ray.init`` in this process's group, died
    before the run could save its state. Moved, the command still gets the signal sent to it
    and stops gracefully (``training.graceful_interrupts``); Ray's processes do not.
    """
    if os.getpgrp() == os.getpid() or _is_terminal_foreground_job():
        return False  # a group leader keeps its group (a new one would need a new process)
    os.setpgrp()
    return True


def _node_args(index: int, num_cpus: int) -> dict:
    # Node i of a simulated cluster carries the custom resource "node_i", so a config can
    # place actors on it, e.g. `custom_resources_per_env_runner: {node_1: 1}`.
    return {"num_cpus": num_cpus, "resources": {f"node_{index}": SIMULATED_NODE_SLOTS}}


def check_ray_flags(address: str | None, num_cpus: int | None, num_nodes: int) -> None:
    """The --ray-* flags, checked before anything uses them."""
    if num_nodes < 1:
        raise ConfigError(f"--ray-num-nodes must be >= 1, got {num_nodes}.")
    if num_cpus is not None and num_cpus < 1:
        raise ConfigError(f"--ray-num-cpus must be >= 1, got {num_cpus}.")
    if num_nodes > 1 and address:
        raise ConfigError(
            "--ray-num-nodes simulates a local cluster; it cannot join --ray-address."
        )


@contextlib.contextmanager
def ray_session(
    address: str | None = None,
    num_cpus: int | None = None,
    num_nodes: int = 1,
    quiet: bool = False,
) -> Iterator[None]:
    """Run the body with Ray up, and rllib-meta's envs/algorithms registered in this job.

    ``address="auto"`` joins a running cluster; ``num_nodes > 1`` starts a local simulated
    cluster (``ray.cluster_utils.Cluster``) with ``num_cpus`` split across the nodes, node ``i``
    carrying the custom resource ``node_i``. If Ray is already initialised (tests, notebooks),
    it is reused and left running. ``quiet`` filters Ray's known harmless messages in the
    workers too (:mod:`rllib_meta.quiet`).
    """
    import ray

    check_ray_flags(address, num_cpus, num_nodes)
    if ray.is_initialized():
        register_all()  # Tune's registry is per Ray job: make sure this job has our entries.
        yield
        return

    cluster = None
    init_args = {"runtime_env": runtime_env(quiet), "include_dashboard": False}
    if not address:
        leave_supervisor_process_group()  # before Ray's processes start: they inherit it
    if num_nodes > 1:
        from ray.cluster_utils import Cluster

        cpus_per_node = int(local_offer(num_cpus, num_nodes)[1][0]["CPU"])
        cluster = Cluster(initialize_head=True, head_node_args=_node_args(0, cpus_per_node))
        for index in range(1, num_nodes):
            cluster.add_node(**_node_args(index, cpus_per_node))
        ray.init(address=cluster.address, **init_args)
    elif address:
        check_reachable(address)
        try:
            ray.init(address=address, **init_args)
        except ConnectionError as error:
            raise ConfigError(f"--ray-address {address!r}: {error}") from None
    else:
        ray.init(num_cpus=num_cpus, **init_args)
    try:
        register_all()
        yield
    finally:
        ray.shutdown()
        if cluster is not None:
            cluster.shutdown()


def _request_text(resources: Mapping[str, float]) -> str:
    return ", ".join(f"{amount:g} {name}" for name, amount in sorted(resources.items()))


def resource_shortfall(
    bundles: Sequence[Mapping[str, float]],
    total: Mapping[str, float],
    nodes: Sequence[Mapping[str, float]],
) -> dict[str, tuple[float, float]]:
    """What a trial's placement group lacks: resource -> (needed, available).

    A trial's bundles (the algorithm, then its EnvRunners and learners, RLlib's
    ``default_resource_request``) may spread over nodes, but each bundle must fit one node.
    """
    needed: dict[str, float] = {}
    for bundle in bundles:
        for name, amount in bundle.items():
            needed[name] = needed.get(name, 0.0) + amount
    short = {
        name: (amount, total.get(name, 0.0))
        for name, amount in needed.items()
        if amount > total.get(name, 0.0) + 1e-9
    }
    for bundle in bundles:
        if not any(all(node.get(k, 0.0) + 1e-9 >= v for k, v in bundle.items()) for node in nodes):
            for name, amount in bundle.items():
                largest = max((node.get(name, 0.0) for node in nodes), default=0.0)
                if amount > largest + 1e-9:
                    short.setdefault(name, (amount, largest))
    return short


def _cluster_resources() -> tuple[dict, list[dict]]:
    import ray

    nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
    return dict(ray.cluster_resources()), nodes


def check_resources(
    bundles: Sequence[Mapping[str, float]],
    what: str,
    fix: str,
    joined: bool,
    wait_s: float = RESOURCE_WAIT_S,
    offer: tuple[Mapping[str, float], Sequence[Mapping[str, float]]] | None = None,
) -> None:
    """Refuse a trial request the cluster cannot satisfy (Tune would wait forever for it).

    The cluster is the running one, or ``offer`` (total, per node), what a local Ray about to
    start will have. On a joined cluster (``joined``), which an autoscaler may still grow,
    wait up to ``wait_s`` seconds for the resources to appear first. ``fix`` says how to ask
    for less.
    """
    deadline = time.monotonic() + (wait_s if joined and offer is None else 0.0)
    announced = False
    while True:
        total, nodes = offer if offer is not None else _cluster_resources()
        short = resource_shortfall(bundles, total, nodes)
        if not short or time.monotonic() >= deadline:
            break
        if not announced:
            print(
                f"Waiting up to {wait_s:g}s for the cluster to offer {what} "
                f"({_request_text(_sum(bundles))}; it has {_request_text(_visible(total))}).",
                flush=True,
            )
            announced = True
        time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
    if short:
        lacking = "; ".join(
            f"{needed:g} {name} needed, {available:g} available"
            for name, (needed, available) in sorted(short.items())
        )
        waited = f" after waiting {wait_s:g}s" if joined else ""
        raise ConfigError(
            f"{what} cannot be placed on this Ray cluster{waited} ({lacking}; the trial asks for "
            f"{len(bundles)} bundle(s): {list(map(dict, bundles))}), so it would wait forever. "
            f"{fix}"
        )


def local_offer(num_cpus: int | None, num_nodes: int) -> tuple[dict, list[dict]]:
    """The CPUs a local Ray started by :func:`ray_session` will have: (total, per node)."""
    if num_nodes > 1:
        per_node = max(1, (num_cpus or os.cpu_count() or 1) // num_nodes)
        return {"CPU": float(per_node * num_nodes)}, [{"CPU": float(per_node)}] * num_nodes
    cpus = float(num_cpus or os.cpu_count() or 1)
    return {"CPU": cpus}, [{"CPU": cpus}]


def _sum(bundles: Sequence[Mapping[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for bundle in bundles:
        for name, amount in bundle.items():
            out[name] = out.get(name, 0.0) + amount
    return out


def _visible(total: Mapping[str, float]) -> dict[str, float]:
    """The resources worth naming (not memory, object store or node-ip markers)."""
    return {
        k: v
        for k, v in total.items()
        if k in ("CPU", "GPU") or not (k.startswith("node:") or "memory" in k)
    }
