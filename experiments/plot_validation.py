"""Validation AUC during meta-training of the reduced-scale runs (results/small/*/seed*/) or,
with ``--root results/ipd_l3``, of experiments/meta_mapg_ipd_l3.sh's runs.

    python experiments/plot_validation.py TAG [TAG ...] --output FIGURE.png [--root DIR]

One line per run (tag and seed), the meta-validation AUC at every training iteration as
reported by the run (``validation/auc`` in the Tune trial's result.json).
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tags", nargs="+")
    parser.add_argument("--output", required=True)
    parser.add_argument("--root", default="results/small")
    args = parser.parse_args()
    figure = Figure(figsize=(7, 4), dpi=120)
    axes = figure.add_subplot()
    for tag in args.tags:
        for result_file in sorted(Path(args.root, tag).glob("seed*/*/*/result.json")):
            seed = result_file.parents[2].name
            axes.plot(*validation_curve(result_file), label=f"{tag} {seed}")
    axes.set_xlabel("meta-training iteration")
    axes.set_ylabel("validation AUC (phi_1..phi_L)")
    axes.legend(fontsize=7)
    axes.grid(alpha=0.3)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.output, bbox_inches="tight")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
