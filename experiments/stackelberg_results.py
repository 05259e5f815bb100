"""Per-game table and learning curves (paper 003, Fig. 1) from StackelbergMeta sweeps.

Reads every trial's ``result.json`` under the given Tune experiment folders (the runs of
``tuned_examples/stackelberg_*_12games.yaml``), groups them by game, and prints a markdown
table: the greedy leader's and follower's exact returns at the end of leader training (1..4
payoff scale, summed over the 10-step episode; mean, min and max over seeds), the game's exact
Stackelberg optimum, the leader environment steps until the leader first reached its final
return, the follower's regret after pre-training and the changes during verification. With
``--baseline`` (the PPO + Q-learning sweep) the same columns for the baseline are added.
``--plot`` draws leader return against environment steps for every game (PNG).

    python experiments/stackelberg_results.py RESULTS/stackelberg-ppo-12games \
        --baseline RESULTS/stackelberg-ppo-qlearning-12games --plot fig1.png
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

METRICS = "stackelberg"
PRETRAINING, LEADER_TRAINING, VERIFICATION = 1.0, 2.0, 3.0


@dataclass
class Trial:
    """One trial's per-iteration metrics (``stackelberg/*``) and its game and seed."""

    game: str
    seed: int
    rows: list[dict[str, float]]

    def column(self, key: str, phase: float | None = None) -> np.ndarray:
        rows = [r for r in self.rows if phase is None or r["phase"] == phase]
        return np.array([r.get(key, np.nan) for r in rows], dtype=float)

    def last(self, key: str, phase: float) -> float:
        values = self.column(key, phase)
        return float(values[-1]) if values.size else float("nan")

    def leader_metric(self) -> str:
        """The contextual runs have a trained follower to play against; the baseline's
        follower is rebuilt every episode, so its leader is scored against a best responder."""
        return (
            "leader_return"
            if "leader_return" in self.rows[-1]
            else "leader_return_vs_best_response"
        )

    def steps_to_final(self) -> float:
        """Leader environment steps until the leader's return first equals its final value
        (reported by the algorithm at step resolution; from the rows in older results)."""
        reported = self.last("leader_steps_to_current_return", LEADER_TRAINING)
        if not np.isnan(reported):
            return reported
        key = self.leader_metric()
        values = self.column(key, LEADER_TRAINING)
        steps = self.column("env_steps_leader_training", LEADER_TRAINING)
        first = int(np.argmax(values == values[-1]))
        return float(steps[first])


def read_trials(folder: Path) -> list[Trial]:
    trials = []
    for result_file in sorted(folder.glob("*/result.json")):
        lines = [json.loads(line) for line in result_file.read_text().splitlines() if line]
        if not lines or not lines[-1].get("done", False):
            continue  # unfinished trial
        config = lines[0]["config"]
        rows = [line[METRICS] for line in lines]
        trials.append(Trial(config["env_config"]["game"], int(config["seed"]), rows))
    return trials


def by_game(trials: list[Trial]) -> dict[str, list[Trial]]:
    groups: dict[str, list[Trial]] = defaultdict(list)
    for trial in trials:
        groups[trial.game].append(trial)
    return dict(sorted(groups.items()))


def spread(values: list[float], digits: int = 1) -> str:
    """``mean [min, max]``, or the value alone when all seeds agree."""
    array = np.asarray(values, dtype=float)
    if np.all(array == array[0]):
        return f"{array[0]:.{digits}f}"
    return f"{array.mean():.{digits}f} [{array.min():.{digits}f}, {array.max():.{digits}f}]"


def steps(values: list[float]) -> str:
    array = np.asarray(values) / 1000.0

    def kilo(value: float) -> str:
        return f"{value:.1f}k" if value < 10 else f"{value:.0f}k"

    return f"{kilo(np.median(array))} [{kilo(array.min())}, {kilo(array.max())}]"


def table(main: dict[str, list[Trial]], baseline: dict[str, list[Trial]] | None) -> str:
    header = [
        "game",
        "optimum L / F",
        "leader",
        "follower",
        "seeds at optimum",
        "leader steps to final",
        "regret after pre-training (mean / max)",
        "verification change L / F",
    ]
    if baseline:
        header += ["PPO+Q-learn leader (exact BR)", "at optimum", "env steps to final"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for game, trials in main.items():
        optimum = trials[0].rows[-1]
        leader = [t.last("leader_return", LEADER_TRAINING) for t in trials]
        follower = [t.last("follower_return", LEADER_TRAINING) for t in trials]
        at_optimum = sum(value == optimum["optimum_leader_return"] for value in leader)
        regret_mean = [t.last("follower_regret_mean", PRETRAINING) for t in trials]
        regret_max = [t.last("follower_regret_max", PRETRAINING) for t in trials]
        change_leader = [t.last("verification_leader_change", VERIFICATION) for t in trials]
        change_follower = [t.last("verification_follower_change", VERIFICATION) for t in trials]
        cells = [
            game,
            f"{optimum['optimum_leader_return']:.0f} / {optimum['optimum_follower_return']:.0f}",
            spread(leader),
            spread(follower),
            f"{at_optimum}/{len(trials)}",
            steps([t.steps_to_final() for t in trials]),
            f"{spread(regret_mean, 2)} / {spread(regret_max)}",
            f"{spread(change_leader)} / {spread(change_follower)}",
        ]
        if baseline:
            others = baseline.get(game, [])
            final = [t.last("leader_return_vs_best_response", LEADER_TRAINING) for t in others]
            reached = sum(value == optimum["optimum_leader_return"] for value in final)
            cells += [
                spread(final) if final else "-",
                f"{reached}/{len(others)}",
                steps([t.steps_to_final() for t in others]) if others else "-",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(main: dict[str, list[Trial]], baseline: dict[str, list[Trial]] | None, path: Path):
    """Leader return against environment steps per game (paper Fig. 1): ours counts the
    pre-training steps too (the paper's x-axis); mean over seeds with the min-max band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    figure, axes = plt.subplots(3, 4, figsize=(16, 10), sharex=True)
    for axis, (game, trials) in zip(axes.flat, main.items(), strict=False):
        _curve(axis, trials, "leader_return", "PPO+Meta-RL (ours)", "tab:blue", pretraining=True)
        if baseline and game in baseline:
            _curve(
                axis, baseline[game], "leader_return_vs_best_response", "PPO+Q-learn", "tab:orange"
            )
        optimum = trials[0].rows[-1]["optimum_leader_return"]
        axis.axhline(optimum, color="gray", linestyle=":", linewidth=1.5, zorder=0, label="optimum")
        axis.set_title(game)
        axis.set_xscale("log")
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.set_ylim(5, 42)
    axes[0, 0].legend(loc="lower right", fontsize=8)
    for axis in axes[-1]:
        axis.set_xlabel("environment steps")
    for axis in axes[:, 0]:
        axis.set_ylabel("leader return per episode (1..4 scale)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)


def _curve(axis, trials: list[Trial], key: str, label: str, color: str, pretraining=False):
    curves = []
    for trial in trials:
        values = trial.column(key, LEADER_TRAINING)
        offset = trial.last("env_steps_pretraining", PRETRAINING) if pretraining else 0.0
        x = trial.column("env_steps_leader_training", LEADER_TRAINING) + offset
        curves.append((x, values))
    length = min(len(values) for _, values in curves)
    x = curves[0][0][:length]
    stacked = np.stack([values[:length] for _, values in curves])
    axis.plot(x, stacked.mean(axis=0), color=color, label=label)
    axis.fill_between(x, stacked.min(axis=0), stacked.max(axis=0), color=color, alpha=0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", type=Path, help="Tune experiment folder of the main sweep")
    parser.add_argument("--baseline", type=Path, help="folder of the PPO + Q-learning sweep")
    parser.add_argument("--plot", type=Path, help="write the learning curves to this PNG")
    args = parser.parse_args()
    main_trials = by_game(read_trials(args.experiment))
    baseline = by_game(read_trials(args.baseline)) if args.baseline else None
    print(table(main_trials, baseline))
    if args.plot:
        plot(main_trials, baseline, args.plot)


if __name__ == "__main__":
    main()
