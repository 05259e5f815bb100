#!/usr/bin/env bash
# Meta-tests the runs of experiments/meta_mapg_small.sh (and meta_mapg_k_sweep_small.sh) on the
# test personas and writes tables (stdout) and plots under OUT (default docs/figures/small).
# Every run is evaluated at its final checkpoint (the same iteration count for every method;
# one checkpoint per seed gives the mean and 95% CI across seeds). Pass experiment
# directories instead to select each run's checkpoint by validation AUC.
#   experiments/evaluate_small.sh [OUT] [SECTION ...]
# SECTION: ipd ood ablation_300 ablation_600 rps rps_lr1e-4 rps_3p rps_3p_1000 rps_4p_1000 k_sweep
# (default: all).
set -euo pipefail
out=${1:-docs/figures/small}
shift || true
sections=${*:-ipd ood ablation_300 ablation_600 rps rps_lr1e-4 rps_3p rps_3p_1000 rps_4p_1000 k_sweep}
last_checkpoint() { ls -d "$1"checkpoint_* | sort | tail -n 1; }
final_checkpoints() {
  for tag in "$@"; do
    for trial in results/small/"$tag"/seed*/*/*/; do
      [ -d "$trial" ] && last_checkpoint "$trial"
    done
  done
}
# Checkpoint 11 of a run checkpointed every 25 iterations from 25: iteration 300.
at_iteration_300() {
  for tag in "$@"; do ls -d results/small/"$tag"/seed*/*/*/checkpoint_000011 2>/dev/null || true; done
}
for section in $sections; do
  case $section in
    ipd)  # Paper Fig. 2a/2b: IPD, cooperating and defecting test personas.
      rllib evaluate $(final_checkpoints meta_mapg_ipd meta_pg_ipd lola_dice_ipd reinforce_ipd) \
        --output-dir "$out/ipd" ;;
    ood)  # Paper Fig. 3c question: out-of-distribution test personas (our test_ood split).
      rllib evaluate $(final_checkpoints meta_mapg_ipd meta_pg_ipd) --split test_ood \
        --output-dir "$out/ipd_ood" ;;
    ablation_300)  # Paper Fig. 4c and 4a at 300 iterations (one seed each).
      rllib evaluate $(at_iteration_300 meta_mapg_ipd meta_pg_ipd) \
        $(final_checkpoints meta_mapg_ipd_no_own_learning meta_mapg_ipd_om) \
        --output-dir "$out/ipd_ablation_om_300" ;;
    ablation_600)  # Paper Fig. 4c and 4a at 600 iterations, 3 seeds each.
      rllib evaluate $(final_checkpoints meta_mapg_ipd meta_pg_ipd \
        meta_mapg_ipd_no_own_learning_600 meta_mapg_ipd_om_600) \
        --output-dir "$out/ipd_ablation_om_600" ;;
    rps)  # Paper Fig. 2c with the paper's RPS learning rates (outer 1e-5).
      rllib evaluate $(final_checkpoints meta_mapg_rps meta_pg_rps) --output-dir "$out/rps" ;;
    rps_lr1e-4)  # Paper Fig. 2c with the IPD's outer learning rates (1e-4, 1.5e-4).
      rllib evaluate $(final_checkpoints meta_mapg_rps_lr1e-4 meta_pg_rps_lr1e-4 \
        lola_dice_rps_lr1e-4 reinforce_rps_lr1e-4) \
        --output-dir "$out/rps_lr1e-4" ;;
    rps_3p)  # Paper Fig. 4b: 3-player RPS, outer learning rates 1e-4, 1.5e-4.
      rllib evaluate $(final_checkpoints meta_mapg_rps_3p_lr1e-4 meta_pg_rps_3p_lr1e-4) \
        --output-dir "$out/rps_3p" ;;
    rps_3p_1000)  # Paper Fig. 4b: 3-player RPS, 1000 iterations (issue 17 item 2).
      rllib evaluate $(final_checkpoints meta_mapg_rps_3p_1000 meta_pg_rps_3p_1000) \
        --output-dir "$out/rps_3p_1000" ;;
    rps_4p_1000)  # Paper Fig. 4b: 4-player RPS, 1000 iterations (issue 17 item 2).
      rllib evaluate $(final_checkpoints meta_mapg_rps_4p_1000 meta_pg_rps_4p_1000) \
        --output-dir "$out/rps_4p_1000" ;;
    k_sweep)  # Paper Fig. 3a: one trial per K, each meta-tested on its own.
      for trial in results/small/k_sweep/seed*/*/*/; do
        k=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["trajectories_per_step"])' "$trial/params.json")
        rllib evaluate "$(last_checkpoint "$trial")" \
          --output-dir "$out/k_sweep/K$k"
      done ;;
    *) echo "unknown section $section" >&2; exit 2 ;;
  esac
done
