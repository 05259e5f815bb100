"""Tables of the reduced-scale MRA comparison (paper 002, Figs. 2b, 3, 4, 5; issue 13 item 4).

Reads the Tune trials of ``tuned_examples/mra_resource_occupation_small_baselines.yaml`` (one
folder per method under ``--baselines``, the storage path of that run), the
``mra_evaluation.json`` that ``rllib evaluate`` wrote for their final checkpoints and, with
``--adaptation``/``--scratch``, the trials of
``tuned_examples/mra_resource_occupation_small_adaptation.yaml`` (from an MRA checkpoint and
from scratch). Prints markdown tables, every cell the mean over seeds and the 95% CI over seeds
(Student t; ``rllib evaluate``'s own CI is over episodes of one checkpoint):

* the mean episode return per agent of the training episodes, averaged over windows of
  iterations (``mra/<game>/episode_return_mean`` of each trial's ``progress.csv``);
* the evaluation of the final checkpoints on the training games and the unseen ones
  (zero-shot), as ``E_z`` and as the best fixed ``z`` (paper section 7.3);
* the adaptation curves side by side.

    python experiments/mra_small_results.py --baselines DIR --evaluation FILE.json \
        [--adaptation DIR --scratch DIR --adaptation-evaluation FILE.json]
"""

from __future__ import annotations

import argparse
import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rllib_meta.evaluation.statistics import mean_and_ci95

# experiment folder (the file's experiment names) -> the paper's name of the method
METHODS = {
    "mra-small": "MRA",
    "single-mg-small": "single-MG baseline",
    "single-mg-equal-budget-small": "single-MG, MRA's budget",
    "reptile-small": "Reptile (latent none)",
    "uni-mra-small": "uni-MRA (latent uniform)",
    "maddpg-rel-small": "MADDPG-rel",
}
TRAINING_WINDOWS = ((1, 10), (21, 30), (51, 60), (91, 100), (141, 150), (191, 200))
ADAPTATION_WINDOWS = ((1, 5), (6, 10), (21, 30), (51, 60), (91, 100), (141, 150))


@dataclass
class Trial:
    """One Tune trial: its folder, seed, training games and per-iteration returns per game."""

    path: Path
    seed: int
    games: list[str]
    returns: dict[str, np.ndarray]  # game label -> return per iteration (NaN: none ended)


def load_trial(path: Path) -> Trial:
    params = json.loads((path / "params.json").read_text())
    games = [f"n{count}" for count in params["training_populations"]]
    with (path / "progress.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    returns = {
        game: np.array([float(row.get(f"mra/{game}/episode_return_mean") or "nan") for row in rows])
        for game in games
    }
    return Trial(path, int(params["seed"]), games, returns)


def trials_below(folder: Path) -> list[Trial]:
    """Every trial folder below ``folder`` (at any depth)."""
    return [load_trial(p.parent.resolve()) for p in sorted(folder.rglob("progress.csv"))]


def cell(values: list[float]) -> str:
    """``mean +- CI`` over the seeds that have a value (``(n=k)`` when some have none)."""
    found = np.array([v for v in values if np.isfinite(v)])
    if len(found) == 0:
        return "-"
    mean, half = mean_and_ci95(found)
    spread = "" if np.isnan(half) else f" +- {half:.2f}"
    fewer = "" if len(found) == len(values) else f" (n={len(found)})"
    return f"{mean:.2f}{spread}{fewer}"


def window_mean(returns: np.ndarray, window: tuple[int, int]) -> float:
    """Mean over the window's iterations; NaN when the trial did not reach it."""
    first, last = window
    part = returns[first - 1 : last]
    return float(np.nanmean(part)) if len(part) == last - first + 1 else float("nan")


def curve_table(groups: dict[str, list[Trial]], games: list[str], windows) -> list[str]:
    """One row per (method, game): the window means, mean and CI over seeds."""
    heads = [f"{first}-{last}" for first, last in windows]
    lines = [
        "| method | game | seeds | " + " | ".join(heads) + " |",
        "|---|---|---|" + "---|" * len(heads),
    ]
    for name, trials in groups.items():
        for game in games:
            mine = [t for t in trials if game in t.games]
            if not mine:
                continue
            cells = [cell([window_mean(t.returns[game], w) for t in mine]) for w in windows]
            lines.append(f"| {name} | {game} | {len(mine)} | " + " | ".join(cells) + " |")
    return lines


def evaluation_rows(files: list[Path]) -> dict[Path, list[dict]]:
    """Trial folder -> the rows ``rllib evaluate`` wrote for its checkpoint."""
    rows = {}
    for file in files:
        for report in json.loads(file.read_text()):
            rows[Path(report["checkpoint"]).resolve().parent] = report["games"]
    return rows


def mode_means(row: dict) -> tuple[float, float]:
    """The E_z mean and the best fixed z's mean (E_z where there is no z)."""
    expected = row["modes"]["E_z"]["all"]["mean"]
    best = row.get("best_z")
    return expected, row["modes"][best]["all"]["mean"] if best else expected


def evaluation_table(groups: dict[str, list[Trial]], rows: dict[Path, list[dict]]) -> list[str]:
    """One row per method (single-MG: per training game), one column per evaluated game."""
    games = sorted({r["game"] for found in rows.values() for r in found}, key=lambda g: int(g[1:]))
    lines = [
        "| method | " + " | ".join(f"{g} E_z | {g} best z" for g in games) + " |",
        "|---|" + "---|---|" * len(games),
    ]
    for name, trials in groups.items():
        keys = sorted({tuple(t.games) for t in trials})
        for key in keys:
            mine = [t for t in trials if tuple(t.games) == key and t.path in rows]
            if not mine:
                continue
            label = name if len(keys) == 1 else f"{name} (trained on {', '.join(key)})"
            cells = []
            for game in games:
                found = [r for t in mine for r in rows[t.path] if r["game"] == game]
                if len(found) != len(mine):
                    cells += ["", ""]
                    continue
                trained = "" if found[0]["trained_on"] else " *"
                pairs = [mode_means(r) for r in found]
                cells += [cell([p[0] for p in pairs]) + trained, cell([p[1] for p in pairs])]
            lines.append(f"| {label} ({len(mine)} seeds) | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baselines", type=Path, help="storage path of the baselines run")
    parser.add_argument("--evaluation", type=Path, nargs="*", default=[])
    parser.add_argument("--adaptation", type=Path, help="folder of the adaptation trials")
    parser.add_argument("--scratch", type=Path, help="folder of the trials from scratch")
    parser.add_argument("--adaptation-evaluation", type=Path, nargs="*", default=[])
    args = parser.parse_args()
    if args.baselines:
        groups = {
            label: trials_below(args.baselines / folder)
            for folder, label in METHODS.items()
            if (args.baselines / folder).is_dir()
        }
        print("Training episodes, mean return per agent over iteration windows:\n")
        print("\n".join(curve_table(groups, ["n2", "n3", "n4"], TRAINING_WINDOWS)))
        if args.evaluation:
            print("\nFinal checkpoints, rllib evaluate (* = unseen population, zero-shot):\n")
            print("\n".join(evaluation_table(groups, evaluation_rows(args.evaluation))))
    if args.adaptation and args.scratch:
        groups = {"from MRA": trials_below(args.adaptation)}
        groups["from scratch"] = trials_below(args.scratch)
        games = sorted({g for trials in groups.values() for t in trials for g in t.games})
        print("\nAdaptation, training episodes, mean return per agent over iteration windows:\n")
        print("\n".join(curve_table(groups, games, ADAPTATION_WINDOWS)))
        if args.adaptation_evaluation:
            print("\nAdaptation, final checkpoints, rllib evaluate:\n")
            print("\n".join(evaluation_table(groups, evaluation_rows(args.adaptation_evaluation))))


if __name__ == "__main__":
    main()
