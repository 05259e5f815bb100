"""Steps per second of the Atari trade env against the bare PettingZoo Space Invaders, in one run.

Env rows (one process, one CPU thread, pre-drawn uniformly random actions, resets included):

* ``space_invaders_v2.parallel_env`` -- the bare PettingZoo env (RAM observations): one
  emulator frame per step, through PettingZoo's AEC-to-parallel conversion;
* its ``ParallelAtariEnv`` stepped directly (the env the trade env takes from PettingZoo);
* ``atari_trade`` at ``frame_skip`` 1 and 4 (default), RAM and frame observations: bullets,
  FIRE gating and launch detection on every frame, offers, prices and masks every step. Its
  seller gets a bullet with probability 0.3 per step so that shots are launched and detected.

The overhead of the wrapper is its time per emulator frame over the bare env's, at the same
number of frames (the target: at most +15%); the last column compares with the
``ParallelAtariEnv`` stepped directly, which has no AEC round trip (the wrapper's own cost).
These machines are shared and noisy: each figure is the median of ``--repeats`` timed runs of
about ``--seconds`` each, rows interleaved.

The RLlib rows time PPO's EnvRunners sampling the registered env (RAM observations, default
MLP [64, 64], one module per role) with 1 and 2 remote EnvRunners, env steps per second of
wall time summed over the runners (sampling only; no training).

    python benchmarks/atari_trade_throughput.py [--seconds 2] [--repeats 3] [--no-rllib]
"""

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from timing import calibrate

from envs.atari.space_invaders import make_space_invaders, rom_directory
from envs.atari.trade import AGENTS, AtariTradeEnv

Runner = Callable[[int], int]  # runs a number of steps, returns the emulator frames they took


def bare_pettingzoo() -> Runner:
    from pettingzoo.atari import space_invaders_v2

    env = space_invaders_v2.parallel_env(obs_type="ram", auto_rom_install_path=str(rom_directory()))
    return _parallel_runner(env, lambda rng, n: rng.integers(0, 6, (n, 2)), frames_per_step=1)


def parallel_atari_env() -> Runner:
    return _parallel_runner(
        make_space_invaders(), lambda rng, n: rng.integers(0, 6, (n, 2)), frames_per_step=1
    )


def trade_env(frame_skip: int, obs_type: str = "ram") -> Runner:
    env = AtariTradeEnv(bullet_rate=0.3, frame_skip=frame_skip, obs_type=obs_type)

    def draw(rng, n):  # ship and trade actions of both agents, in (ship, trade) pairs
        seller = np.stack([rng.integers(0, 6, n), rng.integers(0, 6, n)], 1)
        buyer = np.stack([rng.integers(0, 6, n), rng.integers(0, 2, n)], 1)
        return np.stack([seller, buyer], 1)

    return _parallel_runner(env, draw, frames_per_step=frame_skip)


def _parallel_runner(env, draw, frames_per_step: int) -> Runner:
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    agents = list(env.possible_agents)

    def run(steps: int) -> int:
        actions = draw(rng, steps)
        frames = 0
        for t in range(steps):
            if not env.agents:
                env.reset()
            env.step({agent: actions[t, i] for i, agent in enumerate(agents)})
            frames += frames_per_step
        return frames

    return run


def env_rows(seconds: float, repeats: int) -> dict[str, float]:
    """Emulator frames per second of every env row, the rows interleaved ``repeats`` times."""
    runners = {
        "PettingZoo space_invaders_v2.parallel_env (bare)": bare_pettingzoo(),
        "its ParallelAtariEnv, stepped directly": parallel_atari_env(),
        "atari_trade, frame_skip=1, RAM": trade_env(1),
        "atari_trade, frame_skip=4, RAM": trade_env(4),
        "atari_trade, frame_skip=4, frames 84x84x4": trade_env(4, "frames"),
    }
    steps = {name: calibrate(run, seconds) for name, run in runners.items()}
    rates: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(repeats):
        for name, run in runners.items():
            start = time.perf_counter()
            frames = run(steps[name])
            rates[name].append(frames / (time.perf_counter() - start))
    return {name: statistics.median(values) for name, values in rates.items()}


def rllib_rows(seconds: float, repeats: int) -> dict[int, float]:
    """Env steps per second of PPO's EnvRunners sampling, with 1 and 2 remote runners."""
    import ray
    from ray.rllib.algorithms.ppo import PPOConfig

    import rllib_meta
    from rllib_meta.cluster import runtime_env
    from rllib_meta.multi_agent import module_per_role

    ray.init(num_cpus=3, include_dashboard=False, runtime_env=runtime_env(), logging_level="ERROR")
    rllib_meta.register_all()
    results = {}
    try:
        for num_runners in (1, 2):
            config = (
                PPOConfig()
                .environment("atari_trade", env_config={"max_cycles": 500})
                .multi_agent(policies={"seller", "buyer"}, policy_mapping_fn=module_per_role)
                .env_runners(num_env_runners=num_runners, rollout_fragment_length=200)
                .rl_module(model_config={"fcnet_hiddens": [64, 64]})
                .debugging(seed=0)
            )
            algo = config.build_algo()
            group = algo.env_runner_group

            def sample(timesteps: int, group=group) -> int:
                counts = group.foreach_env_runner(
                    lambda runner, n=timesteps: sum(
                        e.env_steps() for e in runner.sample(num_timesteps=n, explore=True)
                    ),
                    local_env_runner=False,
                )
                return sum(counts)

            sample(200)  # warm-up
            timesteps = 200
            while True:
                start = time.perf_counter()
                sample(timesteps)
                if time.perf_counter() - start > seconds / 4:
                    break
                timesteps *= 2
            rates = []
            for _ in range(repeats):
                start = time.perf_counter()
                done = sample(timesteps)
                rates.append(done / (time.perf_counter() - start))
            results[num_runners] = statistics.median(rates)
            algo.stop()
    finally:
        ray.shutdown()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per row")
    parser.add_argument("--no-rllib", action="store_true", help="skip the RLlib sampling rows")
    args = parser.parse_args()
    print(f"ROM: {Path(rom_directory()) / 'space_invaders.bin'}; agents {list(AGENTS)}")
    rates = env_rows(args.seconds, args.repeats)
    bare, core = list(rates.values())[:2]
    timing = f"median of {args.repeats} runs of ~{args.seconds} s"
    print(f"\nEmulator frames/s, one CPU thread, {timing}")
    print(f"{'':<66}time per frame vs")
    print(f"{'env':<46}{'frames/s':>10}{'steps/s':>10}{'bare':>8}{'ParallelAtariEnv':>18}")
    for name, value in rates.items():
        skip = 4 if "frame_skip=4" in name else 1
        row = f"{name:<46}{value:>10,.0f}{value / skip:>10,.0f}"
        print(f"{row}{bare / value - 1:>+8.1%}{core / value - 1:>+18.1%}")
    print("Target: the trade env's time per frame at most +15% over the bare env's.")
    if args.no_rllib:
        return
    print("\nRLlib: PPO EnvRunners sampling atari_trade (RAM, MLP [64, 64]), env steps/s")
    for num_runners, value in rllib_rows(args.seconds, args.repeats).items():
        print(f"  {num_runners} EnvRunner(s): {value:>8,.0f}")


if __name__ == "__main__":
    main()
