"""Why MeVa self-play cooperates less at gamma 0.95-0.99 on the IPD (paper 004 Fig. 3; issue 17
item 1): the learned meta-value against the meta-value it claims, along its own self-play paths.

    python experiments/meva_ipd_high_gamma.py CHECKPOINT [CHECKPOINT ...]

For every checkpoint and gamma, 256 policy pairs from N(0, 1) (seed 0, as ``rllib evaluate``)
follow the checkpoint's MeVa rule in self-play at learning rate 25 (Fig. 3's protocol) for
``--steps`` steps. Printed per gamma:

- player 0's mean value at steps 0, 25, 50, 100 and 200 (200: the value ``rllib evaluate``
  reports), and the fractions of pairs near mutual cooperation (value > -1.1) and near mutual
  defection (value < -1.9) at step 200;
- the model's error: ``U_hat_E(x_t)`` (the mean over quantiles, section 4.1) against the
  Monte-Carlo meta-value of the next point on the same path,
  ``V(x_{t+1}) = (1 - gamma) sum_{s > t} gamma^(s - t - 1) f(x_s)`` (the quantity ``U_hat`` is
  trained to predict, reference.md 4), for the training horizon's points ``t < 100``; the
  truncated tail weighs ``gamma^(steps - 100)`` (under 0.004 at 0.99 with the default 650).

A model that predicts its own paths' meta-values well but whose paths do not reach -1 points
at the objective or the optimisation; a model biased at high gamma points at its training.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import ray
import torch

from envs.differentiable.games import ExactIPD
from rllib_meta.algorithms.meta_value import learning_dynamics as dynamics
from rllib_meta.core.advantages import discounted_returns

GAMMAS = (0.75, 0.9, 0.95, 0.99)
REPORTED_STEPS = (0, 25, 50, 100, dynamics.IPD_STEPS)
TRAINING_HORIZON = 100
COOPERATING, DEFECTING = -1.1, -1.9


def discounted_meta_values(values: torch.Tensor, gamma: float) -> torch.Tensor:
    """``V(x_t) = (1 - gamma) sum_{s >= t} gamma^(s - t) f(x_s)`` along a path of values
    ``(steps + 1, ...)``; the sum is truncated at the path's end."""
    return (1.0 - gamma) * discounted_returns(values.movedim(0, -1), gamma).movedim(-1, 0)


def predicted_meta_values(model: torch.nn.Module, game: ExactIPD, path: torch.Tensor, gamma):
    """``U_hat_E`` along ``path`` ``(steps + 1, B, 2, n)``: ``(steps + 1, B, 2)``."""
    condition = torch.full(path.shape[:-1], gamma)
    with torch.no_grad():
        return model(game.features(path), condition).mean(dim=-1)


def diagnose(rule: dynamics.LearnedRule, steps: int) -> list[str]:
    game = ExactIPD()
    lines = []
    for gamma in GAMMAS:
        start = game.initial_policies(dynamics.IPD_PAIRS, torch.Generator().manual_seed(0))
        field = dynamics.learned_field(game, rule, gamma)
        path = dynamics.run_field(start, field, steps, dynamics.IPD_LR)
        values = game.values(path)  # (steps + 1, B, 2)
        means = [f"{values[t, :, 0].mean():7.3f}" for t in REPORTED_STEPS]
        final = values[dynamics.IPD_STEPS].mean(dim=-1)
        cooperating = (final > COOPERATING).float().mean()
        defecting = (final < DEFECTING).float().mean()
        target = discounted_meta_values(values, gamma)[1 : TRAINING_HORIZON + 1]
        error = predicted_meta_values(rule.model, game, path, gamma)[:TRAINING_HORIZON] - target
        lines.append(
            f"{gamma:5.2f} " + " ".join(means) + f"  {cooperating:5.2f} {defecting:5.2f}"
            f"  {error.mean():+7.3f} {error.pow(2).mean().sqrt():6.3f}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--steps", type=int, default=650, help="self-play steps per path")
    args = parser.parse_args()
    if args.steps < dynamics.IPD_STEPS + TRAINING_HORIZON:
        parser.error(
            f"--steps {args.steps}: at least {dynamics.IPD_STEPS + TRAINING_HORIZON} needed"
        )
    torch.set_num_threads(1)
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    header = " ".join(f"{'t=' + str(t):>7}" for t in REPORTED_STEPS)
    for checkpoint in args.checkpoints:
        _, rule = dynamics.restore_rule(checkpoint)
        if rule is None or rule.rule != "meva":
            raise SystemExit(f"{checkpoint}: not a MeVa checkpoint")
        print(checkpoint)
        print(f"gamma {header}  coop  defect  U bias  U rmse")
        print("\n".join(diagnose(rule, args.steps)))
    ray.shutdown()


if __name__ == "__main__":
    main()
