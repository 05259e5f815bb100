"""Paper 001 Fig. 3a at the reduced scale: the meta-test AUC of each K of the K sweep.

Reads the ``meta_test.json`` that ``experiments/evaluate_small.sh OUT k_sweep`` wrote under
``OUT/k_sweep/K<k>/``, prints a markdown table (AUC against cooperating, defecting and all test
personas) and plots the AUC against K.

    python experiments/k_sweep_table.py [OUT]   # default docs/figures/small
"""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

KINDS = ("cooperating", "defecting", "all")


def meta_agent_aucs(path: Path) -> dict[str, float]:
    (algorithm,) = json.loads(path.read_text())["algorithms"].values()
    return {
        row["kind"]: row["auc_mean"] for row in algorithm["rows"] if row["player"] == "meta-agent"
    }


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/figures/small") / "k_sweep"
    runs = sorted((int(d.name[1:]), meta_agent_aucs(d / "meta_test.json")) for d in out.glob("K*"))
    if not runs:
        raise SystemExit(f"no K*/meta_test.json under {out}: run evaluate_small.sh first")
    print("| K | " + " | ".join(f"AUC {kind}" for kind in KINDS) + " |")
    print("|---|" + "---|" * len(KINDS))
    for k, aucs in runs:
        print(f"| {k} | " + " | ".join(f"{aucs[kind]:.3f}" for kind in KINDS) + " |")
    figure, axes = plt.subplots(figsize=(5, 3.5))
    ks = [k for k, _ in runs]
    for kind in KINDS:
        axes.plot(ks, [aucs[kind] for _, aucs in runs], marker="o", label=kind)
    axes.set(xscale="log", xlabel="trajectories per chain step K", ylabel="meta-test AUC")
    axes.set_xticks(ks, [str(k) for k in ks])
    axes.legend(title="test personas")
    axes.set_title("Meta-MAPG on the IPD: AUC against K")
    figure.tight_layout()
    figure.savefig(out / "auc_vs_k.png", dpi=120)
    print(f"wrote {out / 'auc_vs_k.png'}")


if __name__ == "__main__":
    main()
