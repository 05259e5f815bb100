"""IPD environment steps per second, four ways, side by side in one process.

(a) the PettingZoo env stepped in a Python loop, random actions;
(b) RLlib's MultiAgentEnvRunner sampling the registered ``ipd`` env with a default PPO module
    (RLlib's per-step path: connectors, module forward pass, episode bookkeeping);
(c) the batched torch core at B = 64 and (d) B = 4096, random actions.

Every path runs on one CPU thread and counts one "env step" as one joint step of one game. The
ratios against (b) are the figures to quote: these machines are shared and noisy, so each
figure is the median of ``--repeats`` timed runs of about ``--seconds`` each.

    python benchmarks/matrix_throughput.py [--seconds 2] [--repeats 3]
"""

import argparse
import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch
from timing import calibrate

import envs
from envs.matrix.batched import BatchedIteratedMatrixGame
from envs.matrix.games import ipd

HORIZON = 150


def pettingzoo_loop(steps: int) -> int:
    """(a) Step the PettingZoo env ``steps`` times with uniformly random actions."""
    env = envs.make("ipd", horizon=HORIZON)
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 2, size=(steps, 2))
    env.reset(seed=0)
    for t in range(steps):
        if not env.agents:
            env.reset()
        env.step({"player_0": actions[t, 0], "player_1": actions[t, 1]})
    return steps


def make_rllib_sampler() -> Callable[[int], int]:
    """(b) A local MultiAgentEnvRunner on the registered env; returns a sampler of N steps."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.env.multi_agent_env_runner import MultiAgentEnvRunner

    import rllib_meta  # noqa: F401  (registers the envs)
    from rllib_meta.multi_agent import module_per_agent

    config = (
        PPOConfig()
        .environment("ipd", env_config={"horizon": HORIZON})
        .multi_agent(policies={"player_0", "player_1"}, policy_mapping_fn=module_per_agent)
        .env_runners(num_envs_per_env_runner=1)
        .debugging(seed=0)
    )
    runner = MultiAgentEnvRunner(config=config)

    def sample(steps: int) -> int:
        episodes = runner.sample(num_timesteps=steps, explore=True)
        return sum(episode.env_steps() for episode in episodes)

    return sample


def batched_core(batch_size: int) -> Callable[[int], int]:
    """(c, d) The torch core at ``batch_size``; returns a runner of N joint steps per game."""
    game = BatchedIteratedMatrixGame(ipd(), horizon=HORIZON, batch_size=batch_size)
    generator = torch.Generator().manual_seed(0)

    def run(steps_per_game: int) -> int:
        game.reset()
        for _ in range(steps_per_game):
            actions = torch.randint(0, 2, (batch_size, 2), generator=generator)
            _, _, done = game.step(actions)
            if done:
                game.reset()
        return steps_per_game * batch_size

    return run


def steps_per_second(run: Callable[[int], int], size: int, repeats: int) -> float:
    """Median over ``repeats`` of (env steps done) / (seconds), after one warm-up run."""
    run(max(1, size // 10))
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        done = run(size)
        rates.append(done / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per path")
    args = parser.parse_args()
    torch.set_num_threads(1)

    paths = {
        "(a) PettingZoo env, Python loop": pettingzoo_loop,
        "(b) RLlib MultiAgentEnvRunner.sample": make_rllib_sampler(),
        "(c) batched core, B = 64": batched_core(64),
        "(d) batched core, B = 4096": batched_core(4096),
    }
    rates = {}
    for name, run in paths.items():
        rates[name] = steps_per_second(run, calibrate(run, args.seconds), args.repeats)
    baseline = rates["(b) RLlib MultiAgentEnvRunner.sample"]
    print(f"IPD (horizon {HORIZON}), one CPU thread, median of {args.repeats} runs")
    print(f"{'path':<40}{'env steps/s':>16}{'x RLlib (b)':>14}")
    for name, rate in rates.items():
        print(f"{name:<40}{rate:>16,.0f}{rate / baseline:>14,.1f}")


if __name__ == "__main__":
    main()
