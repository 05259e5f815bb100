"""Every checkpoint of MeVa trials, evaluated at several gamma: how the learned meta-value's
behaviour evolves over training.

    python experiments/meva_by_checkpoint.py TRIAL_OR_EXPERIMENT_DIR [...]

Prints one row per checkpoint: trial id, the gamma it was trained with ("beta" for
Beta(1/2, 1/2) draws), training iteration, then per evaluated gamma (naive learning is
gamma 0)

- Logistic Game (paper 004 Fig. 2b): the fraction of the 29 x 29 grid over [-10, 10]^2 that
  ends in solution B after 200 steps at learning rate 1;
- exact IPD (Fig. 3, self-play panel): the mean value of both players after 200 self-play
  steps at learning rate 25 from 256 policy pairs drawn from N(0, 1) (seed 0 for every gamma,
  so the rows differ only by the model); -1 is mutual cooperation, -2 mutual defection.
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

from envs.differentiable.games import ExactIPD, LogisticGame
from rllib_meta.algorithms.meta_value import learning_dynamics as dynamics

LOGISTIC_GAMMAS = (0.0, 0.5, 0.8, 0.9, 0.95, 0.99)
IPD_GAMMAS = (0.0, 0.5, 0.75, 0.9, 0.95, 0.99)


def checkpoint_iteration(checkpoint: Path) -> int:
    """The training iteration a checkpoint was taken at (its ``algorithm_state.pkl``)."""
    with open(checkpoint / "algorithm_state.pkl", "rb") as file:
        return int(pickle.load(file)["training_iteration"])


def trained_gamma(checkpoint: Path) -> str:
    """The trial's ``meta_gamma`` (``beta`` when drawn from Beta(1/2, 1/2))."""
    gamma = json.loads((checkpoint.parent / "params.json").read_text()).get("meta_gamma")
    return "beta" if gamma is None else f"{gamma:g}"


def basin_fractions(rule: dynamics.LearnedRule) -> list[float]:
    game, grid = LogisticGame(), dynamics.basin_grid(dynamics.BASIN_GRID_SIZE)
    fractions = []
    for gamma in LOGISTIC_GAMMAS:
        field = dynamics.learned_field(game, rule, gamma)
        final = dynamics.run_field(grid, field, dynamics.BASIN_STEPS, dynamics.BASIN_LR)[-1]
        fractions.append(float(dynamics.in_solution_b(final).float().mean()))
    return fractions


def ipd_self_play_values(rule: dynamics.LearnedRule) -> list[float]:
    game = ExactIPD()
    values = []
    for gamma in IPD_GAMMAS:
        start = game.initial_policies(dynamics.IPD_PAIRS, torch.Generator().manual_seed(0))
        field = dynamics.learned_field(game, rule, gamma)
        final = dynamics.run_field(start, field, dynamics.IPD_STEPS, dynamics.IPD_LR)[-1]
        values.append(float(game.values(final).mean()))
    return values


EVALUATIONS = {
    "logistic_game": (LOGISTIC_GAMMAS, basin_fractions),
    "ipd_exact": (IPD_GAMMAS, ipd_self_play_values),
}


def evaluate(checkpoint: Path) -> tuple[tuple[float, ...], list[float]]:
    """The gammas and the row of one checkpoint, by its game."""
    env, rule = dynamics.restore_rule(str(checkpoint))
    if env not in EVALUATIONS or rule is None or rule.rule != "meva":
        allowed = sorted(EVALUATIONS)
        raise SystemExit(f"{checkpoint}: not a MeVa checkpoint on one of {allowed} (env {env!r})")
    gammas, evaluation = EVALUATIONS[env]
    return gammas, evaluation(rule)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="trial or experiment directories")
    args = parser.parse_args()
    torch.set_num_threads(1)
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    printed_gammas = None
    for path in args.paths:
        checkpoints = sorted(
            (checkpoint_iteration(c), c) for c in Path(path).glob("**/checkpoint_*")
        )
        for iteration, checkpoint in checkpoints:
            gammas, row = evaluate(checkpoint)
            if gammas != printed_gammas:  # a header per game
                print("trial  trained  iteration  " + "  ".join(f"g={g:<4}" for g in gammas))
                printed_gammas = gammas
            trial = checkpoint.parent.name.split("_")[3]  # MeVa_<game>_<game>_<id>_...
            cells = "  ".join(f"{value:6.3f}" for value in row)
            print(f"{trial}  {trained_gamma(checkpoint):>7}  {iteration:9d}  {cells}", flush=True)


if __name__ == "__main__":
    main()
