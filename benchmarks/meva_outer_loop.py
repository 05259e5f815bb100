"""MeVa outer loops per second through the RLlib algorithm as users run it (``num_env_runners=0``,
one local Learner, one CPU core), side by side in this process, alternating runs:

* ``shipped``: the engine as it is: MeVa's on-policy and exploratory rollouts stacked into one
  batch, each policy step's ``grad-bar U_hat`` from one backward pass with the opponent's block
  held fixed and ``grad-bar f`` in closed form where the game has one
  (``core/rule_fields.py:meta_value_field``, ``game_gradient``), and the quantile Huber loss
  from sorted targets and prefix sums (``core/quantile.py``);
* ``previous``: the engine before that change (issue 16's "today"), patched back in: two
  rollouts of ``B`` pairs one after the other, ``grad-bar`` of the whole objective by a batched
  backward pass over the two players (``is_grads_batched``), and the pairwise ``(..., M, M)``
  quantile Huber loss;
* ``straightforward``: one backward pass per player and the textbook loss with explicit
  abs/where tensors (on the Logistic Game only).

Settings: the Logistic Game at the paper's (App. D: 128 pairs, T = k = 50, 16 quantiles, 64
units; the defaults of ``MeVa``) and ``tuned_examples/meva_ipd.yaml`` (128 pairs, T = 100 in
strides of 10, 128 units) with 32 and 64 quantiles. The paper's figure: about a minute for 1000
outer loops on a GPU; the authors' jitted JAX notebook took 0.42-0.44 s per Logistic outer loop
on this kind of core.

Times are CPU seconds of this process (``time.process_time``: with ``num_env_runners=0`` the
sampling and the Learner both run here), which a machine shared with other jobs disturbs far
less than wall time.

    python benchmarks/meva_outer_loop.py [--loops 20] [--ipd-loops 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import ray
import torch

import rllib_meta
from rllib_meta.algorithms.meta_value import env_runner as runner_module
from rllib_meta.algorithms.meta_value import learner as learner_module
from rllib_meta.algorithms.meta_value.algorithm import MeVa, NaiveLearning
from rllib_meta.config_builder import build_algorithm_config
from rllib_meta.core import learning_rules
from rllib_meta.core import rule_fields as rules_module
from rllib_meta.core.quantile import pairwise_quantile_huber_loss
from rllib_meta.experiment import load_experiments

IPD_EXAMPLE = Path(__file__).resolve().parents[1] / "tuned_examples" / "meva_ipd.yaml"
NUM_PLAYERS = 2


# -- the previous engine -------------------------------------------------------------------


def batched_backward_gradient(objective, x):
    """``grad-bar f`` as the engine computed it before: one backward pass batched over two
    seeds (row ``p`` seeds player ``p``'s objective), ``is_grads_batched``."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        values = objective(x)
        seeds = torch.eye(NUM_PLAYERS, dtype=values.dtype)
        seeds = seeds.reshape(NUM_PLAYERS, *([1] * (values.dim() - 1)), NUM_PLAYERS)
        seeds = seeds.expand(NUM_PLAYERS, *values.shape)
        (grads,) = torch.autograd.grad(values, x, grad_outputs=seeds, is_grads_batched=True)
    return torch.stack([grads[p, ..., p, :] for p in range(NUM_PLAYERS)], dim=-2)


def meta_value_objective(game, model, gamma, signs, include_game):
    """``x -> (1 - gamma) f(x) + gamma U_hat(x)`` (``U_hat`` alone without the game), no
    player's block held fixed: what the previous engines differentiated."""

    def objective(y):
        meta_value = model(game.features(y), gamma, signs).mean(dim=-1)
        if include_game is False:
            return meta_value
        return (1.0 - gamma) * game.values(y) + gamma * meta_value

    return objective


def previous_meta_value_field(game, model, x, gamma, signs=None, include_game=True):
    """``grad-bar V_hat`` with the whole objective differentiated by the batched backward."""
    objective = meta_value_objective(game, model, gamma, signs, include_game)
    return batched_backward_gradient(objective, x)


def previous_meva_rollouts(self, pairs, gamma):
    """The two rollouts one after the other, ``B`` pairs each."""
    model, stride = self.module.model, self.config.stride

    def field(condition, signs, include_game):
        return lambda y: rules_module.meta_value_field(
            self.game, model, y, condition, signs, include_game
        )

    on_policy = self.rollout(pairs.x, stride, field(gamma, None, True))
    exploring = pairs.signs is not None
    exploratory = self.rollout(pairs.x, stride, field(pairs.condition, pairs.signs, not exploring))
    return on_policy, exploratory


def per_player_gradient(objective, x):
    """``grad-bar f`` the straightforward way: one backward pass per player."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        values = objective(x)
        blocks = []
        for player in range(NUM_PLAYERS):
            (grad,) = torch.autograd.grad(values[..., player].sum(), x, retain_graph=True)
            blocks.append(grad[..., player, :])
    return torch.stack(blocks, dim=-2)


def straightforward_meta_value_field(game, model, x, gamma, signs=None, include_game=True):
    objective = meta_value_objective(game, model, gamma, signs, include_game)
    return per_player_gradient(objective, x)


def textbook_quantile_huber_loss(predictions, targets, kappa=1.0):
    """Quantile Huber loss (Dabney et al. 2018, Eq. 10), every term materialised."""
    errors = targets.detach().unsqueeze(-2) - predictions.unsqueeze(-1)
    absolute = errors.abs()
    huber = torch.where(absolute <= kappa, 0.5 * errors**2, kappa * (absolute - 0.5 * kappa))
    count = predictions.shape[-1]
    taus = (torch.arange(count, dtype=predictions.dtype) + 0.5) / count
    weights = (taus.unsqueeze(-1) - (errors.detach() < 0).to(predictions.dtype)).abs()
    return (weights * huber / kappa).mean(dim=-1).sum(dim=-1).mean()


@contextlib.contextmanager
def patched(gradient, field, rollouts, loss) -> Iterator[None]:
    """Swap the engine's game gradient, meta-value field, rollout stacking and loss."""
    runner_class = runner_module.PolicyPairEnvRunner
    saved_gradient, saved_field = rules_module.game_gradient, rules_module.meta_value_field
    saved_rollouts, saved_loss = runner_class.meva_rollouts, learner_module.quantile_huber_loss
    rules_module.game_gradient = lambda game, x: gradient(game.values, x)
    rules_module.meta_value_field = runner_module.meta_value_field = field
    runner_class.meva_rollouts = rollouts
    learner_module.quantile_huber_loss = loss
    try:
        yield
    finally:
        rules_module.game_gradient = saved_gradient
        rules_module.meta_value_field = runner_module.meta_value_field = saved_field
        runner_class.meva_rollouts = saved_rollouts
        learner_module.quantile_huber_loss = saved_loss


ENGINES: dict[str, Callable[[], contextlib.AbstractContextManager]] = {
    "shipped": contextlib.nullcontext,
    "previous": lambda: patched(
        batched_backward_gradient,
        previous_meta_value_field,
        previous_meva_rollouts,
        pairwise_quantile_huber_loss,
    ),
    "straightforward": lambda: patched(
        per_player_gradient,
        straightforward_meta_value_field,
        previous_meva_rollouts,
        textbook_quantile_huber_loss,
    ),
}


# -- timing ----------------------------------------------------------------------------------


def logistic_config(algorithm_class=MeVa):
    return algorithm_class.get_default_config().environment("logistic_game").debugging(seed=0)


def ipd_config(num_quantiles: int):
    (experiment,) = load_experiments(IPD_EXAMPLE)
    config, _ = build_algorithm_config(MeVa.get_default_config(), experiment.config)
    return config.training(num_quantiles=num_quantiles)


def seconds_per_loop(config, loops: int) -> float:
    algorithm = config.build_algo()
    try:
        algorithm.train()  # warm-up
        start = time.process_time()
        for _ in range(loops):
            algorithm.train()
        return (time.process_time() - start) / loops
    finally:
        algorithm.stop()


def compare(label: str, make_config, loops: int, rounds: int, engines: list[str]) -> None:
    best = {name: float("inf") for name in engines}
    for _ in range(rounds):
        for name in engines:
            with ENGINES[name]():
                best[name] = min(best[name], seconds_per_loop(make_config(), loops))
    print(f"{label}, one core, {loops} loops x {rounds} rounds (best round)")
    for name in engines:
        ratio = best[name] / best["shipped"]
        seconds = best[name]
        print(
            f"  {name:15s}: {seconds:.3f} CPU s/loop, {1 / seconds:.2f} loops/s, "
            f"{ratio:.2f}x shipped"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loops", type=int, default=20, help="Logistic outer loops per run")
    parser.add_argument("--ipd-loops", type=int, default=3, help="IPD outer loops per run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    args = parser.parse_args()
    torch.set_num_threads(1)
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    rllib_meta.register_all()
    assert learning_rules.simultaneous_gradient is rules_module.simultaneous_gradient
    compare(
        "MeVa, Logistic Game, B=128, T=k=50, 16 quantiles",
        logistic_config,
        args.loops,
        args.rounds,
        ["shipped", "previous", "straightforward"],
    )
    compare(
        "Naive learning, Logistic Game, B=128, T=k=50",
        lambda: logistic_config(NaiveLearning),
        args.loops,
        args.rounds,
        ["shipped", "previous"],
    )
    for count in (32, 64):
        compare(
            f"MeVa, IPD (tuned_examples/meva_ipd.yaml), B=128, T=100, k=10, {count} quantiles",
            lambda count=count: ipd_config(count),
            args.ipd_loops,
            args.rounds,
            ["shipped", "previous"],
        )


if __name__ == "__main__":
    main()
