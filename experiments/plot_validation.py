"""Validation AUC during meta-training of the reduced-scale runs (results/small/*/seed*/) or,
with ``--root results/ipd_l3``, of experiments/meta_mapg_ipd_l3.sh's runs.

    python experiments/plot_validation.py TAG [TAG ...] --output FIGURE.png [--root DIR]
        [--at 100 300 1000] [--from 500]

One line per run (tag and seed), the meta-validation AUC at every training iteration as
reported by the run (``validation/auc`` in the Tune trial's result.json). Also prints, per run,
the AUC at the ``--at`` iterations and its lowest and highest values (with their iterations)
over all iterations and over those from ``--from`` on.
"""

import argparse
import json
from pathlib import Path

from matplotlib.figure import Figure


def validation_curve(result_file: Path) -> tuple[list[int], list[float]]:
    iterations, aucs = [], []
    for line in result_file.read_text().splitlines():
        row = json.loads(line)
        auc = row.get("validation", {}).get("auc")
        if auc is not None:
            iterations.append(row["training_iteration"])
            aucs.append(auc)
    return iterations, aucs


def _extremes(points: list[tuple[int, float]]) -> str:
    """Lowest and highest AUC of ``(iteration, auc)`` points, each with the first iteration that
    reported it (a run reports its last validation AUC at every iteration until the next
    validation pass; ``min`` and ``max`` return the first of equal items)."""
    low = min(points, key=lambda point: point[1])
    high = max(points, key=lambda point: point[1])
    return f"min {low[1]:.3f} (it. {low[0]}), max {high[1]:.3f} (it. {high[0]})"


def summary(name: str, iterations: list[int], aucs: list[float], at: list[int], start: int) -> str:
    """One line: the AUC at the ``at`` iterations (``-`` where none was reported), then its
    extremes over all iterations and over those from ``start`` on."""
    points = list(zip(iterations, aucs, strict=True))
    by_iteration = dict(points)
    chosen = ", ".join(
        f"{i}: {by_iteration[i]:.3f}" if i in by_iteration else f"{i}: -" for i in at
    )
    late = [point for point in points if point[0] >= start]
    late_extremes = _extremes(late) if late else "none"
    return f"{name}: {chosen}; all: {_extremes(points)}; from {start}: {late_extremes}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tags", nargs="+")
    parser.add_argument("--output", required=True)
    parser.add_argument("--root", default="results/small")
    parser.add_argument("--at", type=int, nargs="*", default=[], help="iterations to print")
    parser.add_argument("--from", dest="start", type=int, default=0, help="window start")
    args = parser.parse_args()
    figure = Figure(figsize=(7, 4), dpi=120)
    axes = figure.add_subplot()
    for tag in args.tags:
        for result_file in sorted(Path(args.root, tag).glob("seed*/*/*/result.json")):
            seed = result_file.parents[2].name
            iterations, aucs = validation_curve(result_file)
            axes.plot(iterations, aucs, label=f"{tag} {seed}")
            print(summary(f"{tag} {seed}", iterations, aucs, args.at, args.start))
    axes.set_xlabel("meta-training iteration")
    axes.set_ylabel("validation AUC (phi_1..phi_L)")
    axes.legend(fontsize=7)
    axes.grid(alpha=0.3)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.output, bbox_inches="tight")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
