"""Particle-world agent-steps per second, side by side in one process, on one CPU thread.

Rows: our batched numpy core (:class:`envs.particle.BatchedParticleWorld`) for a simple-spread-
like task and the three paper-002 tasks at N = 3, 12, 24 agents with B = 1, 32, 1024 envs;
our PettingZoo env (one game through the ``ParallelEnv`` API); and mpe2's ``simple_spread_v3``
(``pip install -e '.[bench]'``), the PettingZoo reference, at the same N with one env. Every
path steps uniformly random discrete actions, includes observations and rewards, and resets
finished episodes. One "agent-step" is one agent acting once. Ratios are against mpe2 at the
same N, measured in this run (these machines are shared and noisy): each figure is the median
of ``--repeats`` timed runs of about ``--seconds`` each. Pac-Man worlds at N agents use
2N/3 Pac-Man and N/3 ghosts (the paper's 2:1 ratio; N = 3 gives (2, 1)).

The last two tables time the physics kernel alone (action + contact forces + integration) and
the observation step alone in numpy and in equivalent torch code, the measurements behind the
choice of numpy.

    python benchmarks/particle_throughput.py [--seconds 1] [--repeats 3] [--quick]
        [--keep-freed-memory]
"""

import argparse
import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from envs.particle import BatchedParticleWorld, ParticleEnv
from envs.particle.batched import keep_freed_memory
from envs.particle.core import PhysicsParams, make_bodies, step_physics
from envs.particle.tasks import Task, pacman_world, resource_occupation, spread
from envs.particle.tasks import treasure_collection as treasure

TASKS: dict[str, Callable[[int], Task]] = {
    "spread-like": spread,
    "treasure_collection": treasure,
    "resource_occupation": resource_occupation,
    "pacman_world": lambda n: pacman_world(n - n // 3, n // 3),
}
POPULATIONS = (3, 12, 24)
BATCHES = (1, 32, 1024)
TARGETS = {3: 1_000_000, 24: 500_000}  # the project's throughput targets, with 1024 envs
VMAS = {3: 1_180_000, 24: 62_000}  # VMAS 1.5.2 at B = 1024 on this machine, quoted (not run here)

Runner = Callable[[int], int]  # runs a number of steps, returns the agent-steps done


def batched_runner(task: Task, batch_size: int) -> Runner:
    """Our batched core at ``batch_size`` with random actions and masked resets."""
    world = BatchedParticleWorld(task, batch_size, seed=0)
    world.reset()
    rng = np.random.default_rng(0)
    n = task.num_agents

    def run(steps: int) -> int:
        for _ in range(steps):
            _, _, terminated, truncated = world.step(rng.integers(0, 5, (batch_size, n)))
            done = truncated | terminated.all(axis=1)
            if done.any():
                world.reset(done)
        return steps * batch_size * n

    return run


def parallel_env_runner(env) -> Runner:
    """A PettingZoo ``ParallelEnv`` with random actions; counts live agents' steps."""
    rng = np.random.default_rng(0)
    env.reset(seed=0)

    def run(steps: int) -> int:
        done = 0
        for _ in range(steps):
            if not env.agents:
                env.reset()
            agents = env.agents
            draws = rng.integers(0, 5, len(agents))
            env.step({agent: int(a) for agent, a in zip(agents, draws, strict=True)})
            done += len(agents)
        return done

    return run


def mpe2_runner(n: int) -> Runner | None:
    try:
        from mpe2 import simple_spread_v3
    except ImportError:
        return None
    return parallel_env_runner(simple_spread_v3.parallel_env(N=n, continuous_actions=False))


def torch_physics_runner(n: int, batch_size: int) -> Runner:
    """The physics kernel (same math as :func:`envs.particle.core.step_physics`) in torch."""
    p = PhysicsParams()
    gen = torch.Generator().manual_seed(0)
    pos = torch.rand(batch_size, n, 2, generator=gen) * 2 - 1
    vel = torch.zeros(batch_size, n, 2)
    size = torch.full((n,), 0.05)
    directions = torch.tensor([[0.0, 0.0], [-1, 0], [1, 0], [0, -1], [0, 1]])
    active = torch.ones(batch_size, n, dtype=torch.bool)
    min_dist = size[:, None] + size[None, :]
    reach_sq = (min_dist + 40 * p.contact_margin) ** 2
    not_self = ~torch.eye(n, dtype=torch.bool)

    def run(steps: int) -> int:
        nonlocal pos, vel
        for _ in range(steps):
            force = directions[torch.randint(0, 5, (batch_size, n), generator=gen)] * 5.0
            dx = pos[:, :, None, 0] - pos[:, None, :, 0]
            dy = pos[:, :, None, 1] - pos[:, None, :, 1]
            close = (dx * dx + dy * dy < reach_sq) & not_self
            close &= active[:, :, None] & active[:, None, :]
            b, i, j = torch.nonzero(close, as_tuple=True)
            if len(b):
                pdx, pdy = dx[b, i, j], dy[b, i, j]
                dist = torch.sqrt(pdx * pdx + pdy * pdy)
                k = p.contact_margin
                pen = torch.nn.functional.softplus((min_dist[i, j] - dist) / k) * k
                mag = p.contact_force * pen / dist.clamp_min(1e-12)
                contact = torch.zeros(batch_size * n, 2)
                contact.index_add_(0, b * n + i, torch.stack([mag * pdx, mag * pdy], -1))
                force = force + contact.view(batch_size, n, 2)
            vel = vel * (1 - p.damping) + force * p.dt
            vel = torch.where(active[..., None], vel, 0.0)
            pos = pos + vel * p.dt
        return steps * batch_size * n

    return run


def numpy_physics_runner(n: int, batch_size: int) -> Runner:
    rng = np.random.default_rng(0)
    bodies = make_bodies([0.05] * n, [5.0] * n, [None] * n)
    state = [rng.uniform(-1, 1, (batch_size, n, 2)).astype(np.float32)]
    state.append(np.zeros_like(state[0]))
    active = np.ones((batch_size, n), bool)
    params = PhysicsParams()

    def run(steps: int) -> int:
        for _ in range(steps):
            actions = rng.integers(0, 5, (batch_size, n))
            state[:] = step_physics(state[0], state[1], actions, bodies, active, params)
        return steps * batch_size * n

    return run


def numpy_observation_runner(n: int, batch_size: int) -> Runner:
    """Our observation step alone (treasure collection: N agents, 20 treasures)."""
    world = BatchedParticleWorld(treasure(n), batch_size, seed=0)
    world.reset()

    def run(steps: int) -> int:
        for _ in range(steps):
            world.observe()
        return steps * batch_size * n

    return run


def torch_observation_runner(n: int, batch_size: int, num_landmarks: int = 20) -> Runner:
    """The same observation tensors in torch, with the same tricks (one gather of whole agent
    tokens with ``index_select``, complex views for the relative positions)."""
    gen = torch.Generator().manual_seed(0)
    pos = torch.rand(batch_size, n, 2, generator=gen) * 2 - 1
    vel = torch.rand(batch_size, n, 2, generator=gen) - 0.5
    landmark_xy = torch.view_as_complex(torch.rand(batch_size, num_landmarks, 2, generator=gen))
    active = torch.ones(batch_size, n)
    public_template = torch.zeros(n, 8)
    public_template[:, 4] = 1.0
    public_template[:, 7] = 0.05
    landmark_template = torch.zeros(n, num_landmarks, 4)
    landmark_template[..., 2] = 0.025
    landmark_template[..., 3] = 1.0
    small = {"others_mask": torch.ones(n, n - 1), "lm_mask": torch.ones(n, num_landmarks)}
    small["game"] = torch.tensor([n, 0, num_landmarks], dtype=torch.float32).expand(n, 3)
    others_idx = torch.tensor([j for i in range(n) for j in range(n) if j != i])

    def run(steps: int) -> int:
        for _ in range(steps):
            public = public_template.expand(batch_size, n, 8).clone()
            public[..., 0:2] = pos
            public[..., 2:4] = vel
            public[..., 6] = active
            own_xy = torch.view_as_complex(pos)[:, :, None]
            others = torch.index_select(public, 1, others_idx).view(batch_size, n, n - 1, 4, 2)
            torch.view_as_complex(others)[..., 0] -= own_xy
            landmarks = landmark_template.expand(batch_size, n, num_landmarks, 4).clone()
            lm = torch.view_as_complex(landmarks.view(batch_size, n, num_landmarks, 2, 2))
            lm[..., 0] = landmark_xy[:, None] - own_xy
            for value in small.values():
                value.expand(batch_size, *value.shape).clone()
        return steps * batch_size * n

    return run


def rate(run: Runner, seconds: float, repeats: int) -> float:
    """Median agent-steps/s over ``repeats`` runs of about ``seconds`` after calibration."""
    steps = 1
    while True:  # calibrate (also warms up)
        start = time.perf_counter()
        run(steps)
        elapsed = time.perf_counter() - start
        if elapsed > 0.1:
            steps = max(1, int(steps * seconds / elapsed))
            break
        steps *= 4
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        done = run(steps)
        rates.append(done / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="length of one timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per row")
    parser.add_argument("--quick", action="store_true", help="N = 3 and B = 1024 only")
    parser.add_argument(
        "--keep-freed-memory",
        action="store_true",
        help="raise glibc's mmap/trim thresholds first (envs.particle.batched.keep_freed_memory)",
    )
    args = parser.parse_args()
    if args.keep_freed_memory:
        print(f"keep_freed_memory(): {keep_freed_memory()}")
    torch.set_num_threads(1)
    populations = (3,) if args.quick else POPULATIONS
    batches = (1024,) if args.quick else BATCHES

    def measure(run: Runner) -> float:
        return rate(run, args.seconds, args.repeats)

    baseline = {}
    for n in populations:
        runner = mpe2_runner(n)
        baseline[n] = measure(runner) if runner else float("nan")
    if any(np.isnan(v) for v in baseline.values()):
        print("mpe2 is not installed (pip install -e '.[bench]'): ratios are blank")

    print(f"Agent-steps/s, one CPU thread, median of {args.repeats} runs of ~{args.seconds} s")
    print(f"{'path':<44}{'N':>4}{'B':>6}{'agent-steps/s':>16}{'x mpe2':>10}")
    for n in populations:
        row = f"{'mpe2 simple_spread_v3 (PettingZoo)':<44}{n:>4}{1:>6}{baseline[n]:>16,.0f}"
        print(f"{row}{1:>10.1f}")
        ours = measure(parallel_env_runner(ParticleEnv(spread(n))))
        row = f"{'ours spread-like, PettingZoo env':<44}{n:>4}{1:>6}{ours:>16,.0f}"
        print(f"{row}{ours / baseline[n]:>10.1f}")
        for name, make_task in TASKS.items():
            for batch_size in batches:
                value = measure(batched_runner(make_task(n), batch_size))
                row = f"{'ours ' + name + ', batched core':<44}{n:>4}{batch_size:>6}"
                print(f"{row}{value:>16,.0f}{value / baseline[n]:>10.1f}")

    print("\nPhysics kernel alone (actions, contacts, integration), B = 1024")
    print(f"{'N':>4}{'numpy':>16}{'torch':>16}{'numpy / torch':>16}")
    for n in populations:
        np_rate = measure(numpy_physics_runner(n, 1024))
        torch_rate = measure(torch_physics_runner(n, 1024))
        print(f"{n:>4}{np_rate:>16,.0f}{torch_rate:>16,.0f}{np_rate / torch_rate:>16.2f}")
    print("\nObservation step alone (treasure collection, 20 treasures), B = 1024")
    print(f"{'N':>4}{'numpy':>16}{'torch':>16}{'numpy / torch':>16}")
    for n in populations:
        np_rate = measure(numpy_observation_runner(n, 1024))
        torch_rate = measure(torch_observation_runner(n, 1024))
        print(f"{n:>4}{np_rate:>16,.0f}{torch_rate:>16,.0f}{np_rate / torch_rate:>16.2f}")
    print("\nTargets (B = 1024): 1M agent-steps/s at N = 3, 500k at N = 24;")
    print("VMAS 1.5.2 on this machine (quoted, not run here): 1.18M at N = 3, 62k at N = 24.")


if __name__ == "__main__":
    main()
