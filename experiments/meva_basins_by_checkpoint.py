"""Basin of solution B (paper 004 Fig. 2b) of every checkpoint of MeVa trials on the Logistic
Game, at several gamma: how the learned meta-value's basin evolves over training.

    python experiments/meva_basins_by_checkpoint.py TRIAL_OR_EXPERIMENT_DIR [...]

Prints one row per checkpoint (trial id, the gamma it was trained with -- "beta" for
Beta(1/2, 1/2) draws --, training iteration, then the fraction of the 29 x 29 grid over
[-10, 10]^2 that ends in B after 200 steps at learning rate 1, per evaluated gamma); naive
learning is gamma 0.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import ray
import torch

from envs.differentiable.games import LogisticGame
from rllib_meta.algorithms.meta_value import learning_dynamics as dynamics

GAMMAS = (0.0, 0.5, 0.8, 0.9, 0.95, 0.99)


def checkpoint_iteration(checkpoint: Path) -> int:
    """The training iteration a checkpoint was taken at (its ``algorithm_state.pkl``)."""
    with open(checkpoint / "algorithm_state.pkl", "rb") as file:
        return int(pickle.load(file)["training_iteration"])


def trained_gamma(checkpoint: Path) -> str:
    """The trial's ``meta_gamma`` (``beta`` when drawn from Beta(1/2, 1/2))."""
    gamma = json.loads((checkpoint.parent / "params.json").read_text()).get("meta_gamma")
    return "beta" if gamma is None else f"{gamma:g}"


def basin_fractions(checkpoint: Path) -> list[float]:
    _, rule = dynamics.restore_rule(str(checkpoint))
    game, grid = LogisticGame(), dynamics.basin_grid(dynamics.BASIN_GRID_SIZE)
    fractions = []
    for gamma in GAMMAS:
        field = dynamics.learned_field(game, rule, gamma)
        final = dynamics.run_field(grid, field, dynamics.BASIN_STEPS, dynamics.BASIN_LR)[-1]
        fractions.append(float(dynamics.in_solution_b(final).float().mean()))
    return fractions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="trial or experiment directories")
    args = parser.parse_args()
    torch.set_num_threads(1)
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    print("trial  trained  iteration  " + "  ".join(f"g={g:<4}" for g in GAMMAS))
    for path in args.paths:
        checkpoints = sorted(Path(path).glob("**/checkpoint_*"), key=checkpoint_iteration)
        for checkpoint in checkpoints:
            row = basin_fractions(checkpoint)
            trial = checkpoint.parent.name.split("_")[3]  # MeVa_logistic_game_<id>_...
            cells = "  ".join(f"{value:6.3f}" for value in row)
            iteration = checkpoint_iteration(checkpoint)
            print(f"{trial}  {trained_gamma(checkpoint):>7}  {iteration:9d}  {cells}", flush=True)


if __name__ == "__main__":
    main()
