"""MeVa outer loops per second on the Logistic Game at the paper's setting (paper 004 App. D:
128 policy pairs, T = k = 50, 16 quantiles, 64 units) on one CPU core, through the RLlib
algorithm as users run it (``num_env_runners=0``, one local Learner).

Side by side in this process, alternating runs: the engine as shipped, and a straightforward
baseline of the same math (one backward pass per player for every policy step and the textbook
quantile Huber loss with explicit abs/where tensors), patched into the same algorithm. The
paper's figure: about a minute for 1000 outer loops on a GPU.

    python benchmarks/meva_outer_loop.py [--loops 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import ray
import torch

import rllib_meta
from rllib_meta.algorithms.meta_value import learner as learner_module
from rllib_meta.algorithms.meta_value.algorithm import MeVa
from rllib_meta.core import learning_rules
from rllib_meta.core import rule_fields as rules_module


def per_player_gradient(objective, x, create_graph=False):
    """Baseline ``grad-bar f``: one backward pass per player."""
    x = x.detach().requires_grad_(True) if not x.requires_grad else x
    with torch.enable_grad():
        values = objective(x)
        blocks = []
        for player in range(2):
            (grad,) = torch.autograd.grad(
                values[..., player].sum(), x, create_graph=create_graph, retain_graph=True
            )
            blocks.append(grad[..., player, :])
    return torch.stack(blocks, dim=-2)


def textbook_quantile_huber_loss(predictions, targets, kappa=1.0):
    """Baseline quantile Huber loss (Dabney et al. 2018, Eq. 10), every term materialised."""
    errors = targets.detach().unsqueeze(-2) - predictions.unsqueeze(-1)
    absolute = errors.abs()
    huber = torch.where(absolute <= kappa, 0.5 * errors**2, kappa * (absolute - 0.5 * kappa))
    count = predictions.shape[-1]
    taus = (torch.arange(count, dtype=predictions.dtype) + 0.5) / count
    weights = (taus.unsqueeze(-1) - (errors.detach() < 0).to(predictions.dtype)).abs()
    return (weights * huber / kappa).mean(dim=-1).sum(dim=-1).mean()


@contextlib.contextmanager
def baseline_engine():
    saved = (rules_module.simultaneous_gradient, learner_module.quantile_huber_loss)
    rules_module.simultaneous_gradient = per_player_gradient
    learner_module.quantile_huber_loss = textbook_quantile_huber_loss
    try:
        yield
    finally:
        rules_module.simultaneous_gradient, learner_module.quantile_huber_loss = saved


def seconds_per_loop(loops: int) -> float:
    config = MeVa.get_default_config().environment("logistic_game").debugging(seed=0)
    algorithm = config.build_algo()
    try:
        algorithm.train()  # warm-up
        start = time.perf_counter()
        for _ in range(loops):
            algorithm.train()
        return (time.perf_counter() - start) / loops
    finally:
        algorithm.stop()


def quantile_loss_ms(loss, num_quantiles: int, repeats: int = 5) -> float:
    """Forward and backward of ``loss`` on the IPD setting's batch: k = 10 states x 128 pairs
    x 2 players, ``num_quantiles`` predictions against as many targets."""
    predictions = torch.randn(10, 128, 2, num_quantiles, requires_grad=True)
    targets = torch.randn(10, 128, 2, num_quantiles)
    loss(predictions, targets).backward()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        loss(predictions, targets).backward()
    return (time.perf_counter() - start) / repeats * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loops", type=int, default=20, help="outer loops per timed run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    args = parser.parse_args()
    torch.set_num_threads(1)
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    rllib_meta.register_all()
    assert learning_rules.simultaneous_gradient is rules_module.simultaneous_gradient
    shipped, baseline = [], []
    for _ in range(args.rounds):
        shipped.append(seconds_per_loop(args.loops))
        with baseline_engine():
            baseline.append(seconds_per_loop(args.loops))
    best_shipped, best_baseline = min(shipped), min(baseline)
    print(f"MeVa, Logistic Game, B=128, T=k=50, one core, {args.loops} loops x {args.rounds}")
    print(f"  shipped  : {best_shipped:.3f} s/loop (best), {1 / best_shipped:.2f} loops/s")
    print(f"  baseline : {best_baseline:.3f} s/loop (best), {1 / best_baseline:.2f} loops/s")
    print(f"  speed-up : {best_baseline / best_shipped:.2f}x")
    print(f"  1000 outer loops: {1000 * best_shipped / 60:.1f} min (paper: about 1 min on a GPU)")
    print("Quantile Huber loss, forward + backward, 10 x 128 x 2 predictions (IPD setting)")
    for count in (32, 64):
        shipped_ms = min(quantile_loss_ms(learner_module.quantile_huber_loss, count) for _ in "ab")
        baseline_ms = min(quantile_loss_ms(textbook_quantile_huber_loss, count) for _ in "ab")
        print(
            f"  M = {count}: shipped {shipped_ms:.0f} ms, baseline {baseline_ms:.0f} ms, "
            f"speed-up {baseline_ms / shipped_ms:.2f}x"
        )


if __name__ == "__main__":
    main()
