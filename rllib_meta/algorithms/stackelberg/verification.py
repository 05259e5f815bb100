"""Exact checks of a trained leader/follower pair against the game's Stackelberg solution
(paper 003, App. C "Equilibrium verification", done exactly instead of by sampling).

Both greedy policies are deterministic, so every quantity is a deterministic 10-step rollout
(:mod:`envs.matrix.stackelberg`); all returns are on the game's 1..4 payoff scale, summed over
the episode.
"""

from __future__ import annotations

import torch

from envs.matrix.stackelberg import (
    StackelbergSolution,
    deterministic_returns,
    follower_regret,
    memory_one_policies,
    policy_index,
    stationary_best_response,
)


def follower_regrets(
    payoffs: torch.Tensor, follower_table: torch.Tensor, horizon: int
) -> dict[str, float]:
    """The greedy follower's regret against each of the 32 deterministic leaders, compared with
    the best stationary response and with the best time-aware (dynamic programming) one."""
    leaders = memory_one_policies()
    report = {}
    for reference, suffix in (("stationary", ""), ("time_aware", "_time_aware")):
        regret = follower_regret(payoffs, leaders, follower_table, horizon, reference=reference)
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
    an exact best responder, next to the optimum of a deterministic leader."""
    _, best_response_value, _ = stationary_best_response(payoffs, leader, horizon)
    report = {
        "leader_policy": float(policy_index(leader)),
        "leader_return_vs_best_response": float(best_response_value),
        "optimum_leader_return": optimum.leader_return,
        "optimum_follower_return": optimum.follower_return,
    }
    if follower_table is not None:
        response = follower_table[policy_index(leader)]
        returns = deterministic_returns(payoffs, leader, response, horizon)
        report["leader_return"] = float(returns[0])
        report["follower_return"] = float(returns[1])
        report["leader_gap"] = optimum.leader_return - float(returns[0])
    return report
