"""Exact checks of a trained leader/follower pair against the game's Stackelberg solution
(paper 003, App. C "Equilibrium verification", done exactly instead of by sampling): run after
every training iteration and, as the evaluation protocol behind ``rllib evaluate``, on
checkpoints (:func:`evaluate_checkpoints`).

Both greedy policies are deterministic, so every quantity is a deterministic 10-step rollout
(:mod:`envs.matrix.stackelberg`); all returns are on the game's 1..4 payoff scale, summed over
the episode.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import torch

from envs.matrix.stackelberg import (
    NUM_ACTIONS,
    StackelbergSolution,
    deterministic_returns,
    follower_regret,
    memory_one_policies,
    policy_index,
    stationary_best_response,
    time_aware_best_response,
)
from rllib_meta.evaluation.checkpoints import output_directory


def follower_regrets(
    payoffs: torch.Tensor, follower_table: torch.Tensor, horizon: int
) -> dict[str, float]:
    """The greedy follower's regret against each of the 32 deterministic leaders, compared with
    the best stationary response and with the best time-aware (dynamic programming) one.
    ``follower_table`` is ``(32, 5)``, or ``(32, horizon, 5)`` for a follower that observes the
    time step (its regret against the best stationary response can then be negative)."""
    leaders = memory_one_policies()
    report = {}
    for reference, suffix in (("stationary", ""), ("time_aware", "_time_aware")):
        regret = follower_regret(
            payoffs,
            leaders,
            follower_table,
            horizon,
            reference=reference,
            time_indexed=is_time_indexed(follower_table),
        )
        report[f"follower_regret{suffix}_mean"] = float(regret.mean())
        report[f"follower_regret{suffix}_max"] = float(regret.max())
    return report


def leader_report(
    payoffs: torch.Tensor,
    leader: torch.Tensor,
    follower_table: torch.Tensor | None,
    horizon: int,
    optimum: StackelbergSolution,
) -> dict[str, float]:
    """The greedy leader's returns against the trained follower (when there is one) and against
    an exact best responder of the optimum's kind (stationary or time-aware), next to the
    optimum of a deterministic leader."""
    if optimum.follower == "time_aware":
        leader_probs = torch.nn.functional.one_hot(leader, NUM_ACTIONS).double()
        _, best_response_value, _ = time_aware_best_response(payoffs, leader_probs, horizon)
    else:
        _, best_response_value, _ = stationary_best_response(payoffs, leader, horizon)
    report = {
        "leader_policy": float(policy_index(leader)),
        "leader_return_vs_best_response": float(best_response_value),
        "optimum_leader_return": optimum.leader_return,
        "optimum_follower_return": optimum.follower_return,
    }
    if follower_table is not None:
        response = follower_table[policy_index(leader)]
        returns = deterministic_returns(
            payoffs, leader, response, horizon, time_indexed=is_time_indexed(follower_table)
        )
        report["leader_return"] = float(returns[0])
        report["follower_return"] = float(returns[1])
        report["leader_gap"] = optimum.leader_return - float(returns[0])
    return report


def is_time_indexed(follower_table: torch.Tensor) -> bool:
    """A greedy follower table ``(32, horizon, 5)`` (it observes the time step), not
    ``(32, 5)``."""
    return follower_table.dim() == 3


def evaluate_checkpoints(paths: list[str], args: argparse.Namespace) -> int:
    """``rllib evaluate``: the exact checks of every checkpoint's greedy pair, printed as one
    table row per checkpoint and written to ``stackelberg_verification.json`` in
    ``--output-dir`` or next to the first checkpoint (see
    :func:`~rllib_meta.evaluation.checkpoints.output_directory`)."""
    rows = [_checkpoint_report(path) for path in paths]
    print(format_reports(rows))
    output_dir = output_directory(paths, args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / "stackelberg_verification.json"
    path.write_text(json.dumps(rows, indent=2))
    print(f"wrote {path}")
    return 0


def _checkpoint_report(path: str) -> dict[str, Any]:
    from rllib_meta.evaluation.checkpoints import find_checkpoint, load_checkpoint_info

    info = load_checkpoint_info(find_checkpoint(path))
    config = info.config.copy(copy_frozen=False)
    config.env_runners(num_env_runners=0)
    algorithm = info.algorithm_class.from_checkpoint(str(info.path), config=config)
    try:
        leader, follower = (
            torch.as_tensor(t) for t in algorithm.learner_group._learner.greedy_tables()
        )
        payoffs, horizon, optimum = algorithm.payoffs, algorithm.horizon, algorithm.optimum
    finally:
        algorithm.stop()
    contextual = config.follower_oracle == "contextual"
    report = leader_report(payoffs, leader, follower if contextual else None, horizon, optimum)
    if contextual:
        report.update(follower_regrets(payoffs, follower, horizon))
        regret = follower_regret(
            payoffs,
            memory_one_policies(),
            follower,
            horizon,
            reference=config.follower_kind,
            time_indexed=is_time_indexed(follower),
        )
        report["leaders_with_regret"] = [int(i) for i in torch.nonzero(regret > 0).flatten()]
    return {
        "checkpoint": str(info.path),
        "game": config.env_config["game"],
        "leader_answers": "".join("CD"[int(a)] for a in leader),
        **report,
    }


def format_reports(rows: list[dict[str, Any]]) -> str:
    """One line per checkpoint: game, greedy leader (answers in states start, CC, CD, DC, DD),
    its returns against the trained follower and the optimum, the follower's regret."""
    lines = ["game                leader  L / F (optimum)      regret mean / max (time-aware)"]
    for row in rows:
        returns = (
            f"{row['leader_return']:.0f} / {row['follower_return']:.0f}"
            if "leader_return" in row
            else f"{row['leader_return_vs_best_response']:.0f} vs BR"
        )
        optimum = f"({row['optimum_leader_return']:.0f} / {row['optimum_follower_return']:.0f})"
        regret = (
            f"{row['follower_regret_mean']:.3f} / {row['follower_regret_max']:.0f} "
            f"({row['follower_regret_time_aware_mean']:.3f} / "
            f"{row['follower_regret_time_aware_max']:.0f})"
            if "follower_regret_mean" in row
            else "-"
        )
        lines.append(
            f"{row['game']:<19} {row['leader_answers']}   {returns} {optimum:<13}  {regret}"
        )
    return "\n".join(lines)
