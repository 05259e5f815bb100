"""``rllib evaluate`` for StackelbergAtariTrade checkpoints (paper 003 section 4, Fig. 2).

For every checkpoint:

1. the per-bullet values: re-measured now from the checkpoint's frozen ships (``--episodes``
   real episodes with phase 0's trade rule, seeded by ``--seed``), next to those training
   measured and the trade phases played on;
2. the leader's optimal discrete price for its role (:func:`envs.atari.stackelberg.optimal_trade`)
   on the values now measured, and the per-bullet split it gives;
3. the learned pair: the leader's greedy trade policy, the follower's greedy response to it, and
   their per-bullet split on the same values (the exact check);
4. the real-env check: ``--episodes`` real episodes of the frozen ships trading by the learned
   pair (:class:`~.env_runner.TablesTrade`): trades and the mean price per episode, and each
   player's return per bullet disposed of (fired by the seller or sold), the realised split.

Printed as a table, written as ``stackelberg_atari_trade.json`` and, from the trials'
``result.json``, plotted as ``stackelberg_atari_trade.png``: both players' returns and the trade
prices over training, one colour per checkpoint (paper Fig. 2: blue seller leads, orange buyer
leads), in ``--output-dir`` or next to the first checkpoint
(:func:`~rllib_meta.evaluation.checkpoints.output_directory`).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import torch

from envs.atari.stackelberg import optimal_trade
from rllib_meta.algorithms.stackelberg.atari_trade.algorithm import (
    per_bullet_values,
    trade_report,
)
from rllib_meta.algorithms.stackelberg.atari_trade.env_runner import EpisodeTotals, TablesTrade
from rllib_meta.algorithms.stackelberg.atari_trade.trade_game import (
    context_of,
    describe_policy,
    describe_response,
    role_values,
)
from rllib_meta.evaluation.checkpoints import (
    find_checkpoint,
    load_checkpoint_info,
    output_directory,
)

JSON_NAME, PLOT_NAME = "stackelberg_atari_trade.json", "stackelberg_atari_trade.png"


def evaluate_checkpoints(paths: list[str], args: argparse.Namespace) -> int:
    rows = [checkpoint_report(path, args.episodes, args.seed) for path in paths]
    print(format_reports(rows))
    output_dir = output_directory(paths, args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / JSON_NAME).write_text(json.dumps(rows, indent=2))
    plot_training(rows, output_dir / PLOT_NAME)
    print(f"wrote {output_dir / JSON_NAME} and {output_dir / PLOT_NAME}")
    return 0


def pair_policies(
    leader: str, answers: torch.Tensor, follower: torch.Tensor
) -> tuple[int, list[int]]:
    """The real-env form of a greedy pair: the seller's trade action and the buyer's accept
    answer at each price (the follower's answers are its greedy actions per context)."""
    if leader == "seller":
        seller_action = int(answers[0])
        return seller_action, [int(follower[k + 1]) for k in range(5)]
    return int(follower[int(context_of(leader, answers))]), [int(a) for a in answers]


def realised(totals: EpisodeTotals, v_seller: float) -> dict[str, float]:
    """The real-env split: each player's return per bullet disposed of (fired by the seller or
    sold), and the seller's and buyer's shares of the gains over the seller keeping them."""
    disposed = totals.shots[0] + totals.trades
    episodes = max(totals.episodes, 1)
    seller = totals.returns[0] / disposed if disposed else math.nan
    buyer = totals.returns[1] / disposed if disposed else math.nan
    return {
        "episodes": totals.episodes,
        "trades_per_episode": totals.trades / episodes,
        "bullets_disposed_per_episode": disposed / episodes,
        "mean_price": totals.price_sum / totals.trades if totals.trades else math.nan,
        "seller_return_per_episode": totals.returns[0] / episodes,
        "buyer_return_per_episode": totals.returns[1] / episodes,
        "seller_per_bullet": seller,
        "buyer_per_bullet": buyer,
        "seller_gain_per_bullet": seller - v_seller,
        "buyer_gain_per_bullet": buyer,
        "env_steps": totals.env_steps,
    }


def checkpoint_report(path: str, episodes: int, seed: int) -> dict[str, Any]:
    info = load_checkpoint_info(find_checkpoint(path))
    config = info.config.copy(copy_frozen=False)
    config.env_runners(num_env_runners=0)
    algorithm = info.algorithm_class.from_checkpoint(str(info.path), config=config)
    try:
        algorithm.env_runner_group.sync_weights(
            from_worker_or_learner_group=algorithm.learner_group, inference_only=False
        )
        answers, follower = (
            torch.as_tensor(t) for t in algorithm.learner_group._learner.greedy_tables()
        )
        runner = algorithm.env_runner
        runner.seed, runner.episodes_played = int(seed), 0
        runner.generator.manual_seed(int(seed))
        values = per_bullet_values(runner.measure(episodes))
        leader = config.leader
        seller_action, buyer_accepts = pair_policies(leader, answers, follower)
        real = runner.measure(episodes, TablesTrade(seller_action, buyer_accepts))
        trained_values = algorithm.bullet_values
        iteration = algorithm.training_iteration
    finally:
        algorithm.stop()
    leader_answers = [int(a) for a in answers]
    response = int(follower[int(context_of(leader, answers))])
    row = {
        "checkpoint": str(info.path),
        "training_iteration": iteration,
        "leader": leader,
        "bullet_values": list(values),
        "trained_bullet_values": list(trained_values) if trained_values else None,
        # In words (the reports below have them as numbers: leader_context, follower_response).
        "leader_policy": describe_policy(leader, leader_answers),
        "follower_policy": describe_response(leader, leader_answers, response),
        "real_env": {
            "seller_action": seller_action,
            "buyer_accepts": buyer_accepts,
            **realised(real, values[0]),
        },
    }
    # The exact check on the values measured now and on those the trade phases played on.
    for suffix, on in (("", values), ("_trained", trained_values)):
        if on is not None:
            row[f"optimum{suffix}"] = optimum_report(leader, on, config.ties)
            row[f"learned{suffix}"] = trade_report(leader, answers, follower, on, config.ties)
    return row


def optimum_report(leader: str, values: tuple[float, float], ties: str) -> dict[str, Any]:
    """The leader's optimal trade on ``values`` and its per-bullet split."""
    optimum = optimal_trade(leader, *values, ties=ties)
    return {
        "price": optimum.price,
        "seller_offer": optimum.seller_offer,
        "buyer_accepts": list(optimum.buyer_accepts),
        "leader_value": role_values(leader, optimum)[0],
        "follower_value": role_values(leader, optimum)[1],
        "seller_gain": optimum.seller_gain,
        "buyer_gain": optimum.buyer_gain,
    }


def _price(value: float | None) -> str:
    return (
        "none"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{value:g}"
    )


def format_reports(rows: list[dict[str, Any]]) -> str:
    """One block per checkpoint: the values, the optimum and the learned pair on them (measured
    now, and as trained on), the real-env check."""
    lines = []
    for row in rows:
        real = row["real_env"]
        lines += [
            f"{row['checkpoint']} (iteration {row['training_iteration']}), leader: {row['leader']}",
            f"  learned: leader {row['leader_policy']}; follower {row['follower_policy']}",
            "  values v_seller / v_buyer          price   leader / follower per bullet"
            "   seller / buyer gain",
        ]
        for suffix, name in (("", "measured now"), ("_trained", "trained on")):
            if f"optimum{suffix}" not in row:
                continue
            optimum, learned = row[f"optimum{suffix}"], row[f"learned{suffix}"]
            values = f"{learned['v_seller']:.4f} / {learned['v_buyer']:.4f}"
            lines += [
                f"  {name:<13} {values}  optimum {_price(optimum['price']):<6} "
                f"{optimum['leader_value']:7.4f} / {optimum['follower_value']:<7.4f}    "
                f"{optimum['seller_gain']:7.4f} / {optimum['buyer_gain']:.4f}",
                f"  {'':<13} {'':<15}  learned {_price(learned['trade_price']):<6} "
                f"{learned['leader_return']:7.4f} / {learned['follower_return']:<7.4f}    "
                f"{learned['seller_gain']:7.4f} / {learned['buyer_gain']:.4f}"
                f"   (follower regret mean / max {learned['follower_regret_mean']:.4f} / "
                f"{learned['follower_regret_max']:.4f})",
            ]
        lines += [
            f"  real env, {real['episodes']} episodes: {real['trades_per_episode']:.2f} trades "
            f"at mean price {_price(real['mean_price'])} and "
            f"{real['bullets_disposed_per_episode']:.2f} bullets disposed per episode; per "
            f"bullet leader / follower {_by_role(row, real)}, gains seller / buyer "
            f"{real['seller_gain_per_bullet']:.4f} / {real['buyer_gain_per_bullet']:.4f}",
        ]
    return "\n".join(lines)


def _by_role(row: dict[str, Any], real: dict[str, float]) -> str:
    seller, buyer = real["seller_per_bullet"], real["buyer_per_bullet"]
    leader, follower = (seller, buyer) if row["leader"] == "seller" else (buyer, seller)
    return f"{leader:.4f} / {follower:.4f}"


# -- the Fig. 2-style plot ---------------------------------------------------------------------

CURVES = (
    "gameplay_seller_return",
    "gameplay_buyer_return",
    "sampled_seller_value",
    "sampled_buyer_value",
    "seller_return",
    "buyer_return",
    "sampled_price",
    "trade_price",
    "optimum_price",
)


def training_curves(checkpoint: str | Path) -> dict[str, list[tuple[int, float]]]:
    """The curves of :data:`CURVES` over training iterations, from the checkpoint's trial
    ``result.json`` (empty when the checkpoint is not inside a Tune trial)."""
    result_file = Path(checkpoint).parent / "result.json"
    curves: dict[str, list[tuple[int, float]]] = {name: [] for name in CURVES}
    if not result_file.is_file():
        return curves
    for line in result_file.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        metrics = row.get("stackelberg", {})
        for name in CURVES:
            value = metrics.get(name)
            if isinstance(value, int | float) and not math.isnan(value):
                curves[name].append((int(row["training_iteration"]), float(value)))
    return curves


def plot_training(rows: list[dict[str, Any]], path: Path) -> Path:
    """Three panels over training iterations: the ships' episode returns in phase 0, each
    player's per-bullet return in the trade phases, and the trade prices (sampled, greedy,
    and the optimum dashed); one colour per checkpoint."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, panels = plt.subplots(1, 3, figsize=(15, 4))
    for index, row in enumerate(rows):
        colour = {"seller": "C0", "buyer": "C1"}.get(row["leader"], f"C{index % 10}")
        label = f"{row['leader']} leads"
        curves = training_curves(row["checkpoint"])
        for name, style, panel, who in (
            ("gameplay_seller_return", "-", 0, "seller"),
            ("gameplay_buyer_return", "--", 0, "buyer"),
            ("sampled_seller_value", "-", 1, "seller"),
            ("sampled_buyer_value", "--", 1, "buyer"),
            ("seller_return", ":", 1, "seller, greedy pair"),
            ("buyer_return", "-.", 1, "buyer, greedy pair"),
            ("sampled_price", "-", 2, "sampled"),
            ("trade_price", ":", 2, "greedy"),
        ):
            if curves[name]:
                x, y = zip(*curves[name], strict=True)
                panels[panel].plot(x, y, style, color=colour, label=f"{label}: {who}")
        price = row.get("optimum_trained", row["optimum"])["price"]
        if price is not None:
            panels[2].axhline(
                price, color=colour, linestyle="-.", alpha=0.6, label=f"{label}: optimum {price:g}"
            )
    titles = ("Phase 0: kill reward per episode", "Trade phases: return per bullet", "Trade price")
    for axes, title in zip(panels, titles, strict=True):
        axes.set_title(title)
        axes.set_xlabel("training iteration")
        axes.grid(alpha=0.3)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
