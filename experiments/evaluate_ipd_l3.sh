#!/usr/bin/env bash
# Meta-tests the runs of experiments/meta_mapg_ipd_l3.sh (issue 17 item 3: K = 64, H = 150,
# L = 3) on the test personas, cooperating and defecting (paper 001 Figs. 2a, 2b), and on the
# out-of-distribution split (Fig. 3c); tables on stdout, plots under OUT (default
# docs/figures/ipd_l3).
#   experiments/evaluate_ipd_l3.sh [OUT]
# "final": every run at its last checkpoint (the same iteration count for every method);
# "best": every run at its checkpoint with the best validation AUC (paper 001 App. D).
set -euo pipefail
out=${1:-docs/figures/ipd_l3}
methods="meta_mapg_ipd meta_pg_ipd lola_dice_ipd reinforce_ipd"
trials() { for m in $methods; do ls -d results/ipd_l3/"$m"/seed*/*/*/ 2>/dev/null || true; done; }
last_checkpoint() { ls -d "$1"checkpoint_* | sort | tail -n 1; }
finals=$(for trial in $(trials); do last_checkpoint "$trial"; done)
echo "== final checkpoints, test personas"
rllib evaluate $finals --output-dir "$out/final"
echo "== final checkpoints, out-of-distribution personas"
rllib evaluate $finals --split test_ood --output-dir "$out/final_ood"
echo "== best validation AUC, test personas"
rllib evaluate $(trials) --output-dir "$out/best"
