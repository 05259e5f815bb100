"""Paper 003, Appendix B, Fig. 3: leader reward per leader update, follower reset vs continuous
learning, one line per seed, from the Tune results of FollowerLearningDemo runs.

    python experiments/plot_bos_reset_demo.py EXPERIMENT_DIR --output docs/figures/stackelberg/x.png

Plots the leader's expected reward against the follower's greedy response
(``leader_value_vs_greedy_follower``: 2 at the Stackelberg outcome (C, C), 1 at (D, D)) and
prints each trial's final outcome as a Markdown table.
"""

import argparse
import json
from pathlib import Path

from matplotlib.figure import Figure

RESULTS = "follower_learning_demo"
COLORS = {True: "tab:blue", False: "tab:orange"}


def load_trial(result_file: Path) -> tuple[dict, list[dict]]:
    """The trial's config and its per-iteration demo metrics."""
    rows = [json.loads(line) for line in result_file.read_text().splitlines() if line.strip()]
    config = json.loads((result_file.parent / "params.json").read_text())
    return config, [row[RESULTS] | {"iteration": row["training_iteration"]} for row in rows]


def outcome_of(last: dict) -> str:
    if last["outcome_is_stackelberg"]:
        return "Stackelberg (C,C)"
    if last["outcome_is_follower_nash"]:
        return "Nash (D,D)"
    return "neither"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment_dir")
    parser.add_argument("--output", required=True)
    parser.add_argument("--title", default="")
    args = parser.parse_args()
    trials = [load_trial(path) for path in sorted(Path(args.experiment_dir).glob("*/result.json"))]
    trials.sort(key=lambda trial: (not trial[0]["follower_reset"], trial[0]["seed"]))
    figure = Figure(figsize=(7, 4), dpi=120)
    axes = figure.add_subplot()
    print("| follower | seed | leader P(C) start | final P(C) | follower greedy | outcome |")
    print("|---|---|---|---|---|---|")
    labelled = set()
    for config, rows in trials:
        reset = config["follower_reset"]
        label = None if reset in labelled else ("reset" if reset else "continuous")
        labelled.add(reset)
        iterations = [row["iteration"] for row in rows]
        values = [row["leader_value_vs_greedy_follower"] for row in rows]
        axes.plot(iterations, values, color=COLORS[reset], alpha=0.6, lw=1, label=label)
        first, last = rows[0], rows[-1]
        greedy = {1.0: "C", 0.0: "D"}.get(last["follower_greedy_cooperate"], "tie")
        print(
            f"| {'reset' if reset else 'continuous'} | {config['seed']} | "
            f"{first['leader_p_cooperate']:.2f} | {last['leader_p_cooperate']:.3f} | {greedy} | "
            f"{outcome_of(last)} |"
        )
    axes.set_xlabel("leader update")
    axes.set_ylabel("leader reward vs greedy follower")
    axes.set_ylim(-0.05, 2.1)
    axes.set_title(args.title, fontsize=9)
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.output, bbox_inches="tight")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
