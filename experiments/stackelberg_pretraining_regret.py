"""The contextual follower's exact regret against the 32 deterministic leaders as a function of
pre-training steps (paper 003, phase 1), for every canonical game.

Runs StackelbergMeta's phase 1 only (in-process, ``num_env_runners=0``) with the paper's
follower settings (PG, lr 0.02, 10 episodes per iteration) unless told otherwise, and prints the
mean and max regret (versus the best stationary response) at the given iteration counts.

    python experiments/stackelberg_pretraining_regret.py --seed 0 --checkpoints 500 1000 2000 4000

With ``--follower-observes-time`` the follower's input includes the time step and the regret
is against the time-aware (dynamic programming) best response.
"""

from __future__ import annotations

import argparse
import json

import ray

from envs.matrix.games import CANONICAL_GAME_NAMES
from rllib_meta.algorithms.stackelberg.algorithm import StackelbergMeta


def regret_curve(
    game: str,
    seed: int,
    checkpoints: list[int],
    episodes: int,
    observes_time: bool = False,
    learner: str = "pg",
) -> dict:
    config = (
        StackelbergMeta.get_default_config()
        .environment("matrix_game", env_config={"game": game, "center": True, "horizon": 10})
        .training(
            pretraining_iterations=max(checkpoints),
            follower_episodes_per_iteration=episodes,
            follower_observes_time=observes_time,
            follower_learner=learner,
        )
        .debugging(seed=seed)
    )
    algorithm = config.build_algo()
    curve = {}
    try:
        for iteration in range(1, max(checkpoints) + 1):
            metrics = algorithm.train()["stackelberg"]
            if iteration in checkpoints:
                steps = int(metrics["env_steps_pretraining"])
                suffix = "_time_aware" if observes_time else ""
                curve[steps] = (
                    float(metrics[f"follower_regret{suffix}_mean"]),
                    float(metrics[f"follower_regret{suffix}_max"]),
                )
    finally:
        algorithm.stop()
    return curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoints", type=int, nargs="+", default=[500, 1000, 2000, 4000])
    parser.add_argument("--episodes", type=int, default=10, help="episodes per iteration")
    parser.add_argument("--games", nargs="+", default=list(CANONICAL_GAME_NAMES))
    parser.add_argument("--json", help="also write the curves to this file")
    parser.add_argument("--follower-learner", choices=("pg", "ppo"), default="pg")
    parser.add_argument(
        "--follower-observes-time",
        action="store_true",
        help="the follower's input includes the time step (regret vs the time-aware response)",
    )
    args = parser.parse_args()
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    curves = {}
    for game in args.games:
        curves[game] = regret_curve(
            game,
            args.seed,
            sorted(args.checkpoints),
            args.episodes,
            args.follower_observes_time,
            args.follower_learner,
        )
        cells = ", ".join(f"{s // 1000}k: {m:.3f}/{x:.0f}" for s, (m, x) in curves[game].items())
        print(f"{game}: {cells}", flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(curves, handle, indent=1)


if __name__ == "__main__":
    main()
