#!/usr/bin/env bash
# Meta-tests the runs of experiments/meta_mapg_small.sh on the test personas and writes tables
# (stdout) and plots under OUT (default docs/figures/small). Every run is evaluated at its
# final checkpoint (the same iteration count for every method; one checkpoint per seed gives
# the mean and 95% CI across seeds). Pass experiment directories instead to select each run's
# checkpoint by validation AUC.
set -euo pipefail
out=${1:-docs/figures/small}
final_checkpoints() {
  for tag in "$@"; do
    for trial in results/small/"$tag"/seed*/*/*/; do
      [ -d "$trial" ] && ls -d "$trial"checkpoint_* | sort | tail -n 1
    done
  done
}
# Paper Fig. 2a/2b: IPD, cooperating and defecting test personas.
rllib evaluate $(final_checkpoints meta_mapg_ipd meta_pg_ipd lola_dice_ipd reinforce_ipd) \
  --output-dir "$out/ipd"
# Paper Fig. 3c question: out-of-distribution test personas (our test_ood split).
rllib evaluate $(final_checkpoints meta_mapg_ipd meta_pg_ipd) --split test_ood \
  --output-dir "$out/ipd_ood"
# Paper Fig. 4c (ablation) and Fig. 4a (opponent modeling): the 300-iteration runs against
# Meta-MAPG and Meta-PG at iteration 300 (checkpoint_000011: every 25 iterations from 25).
at_iteration_300() {
  for tag in "$@"; do ls -d results/small/"$tag"/seed*/*/*/checkpoint_000011 2>/dev/null || true; done
}
rllib evaluate $(at_iteration_300 meta_mapg_ipd meta_pg_ipd) \
  $(final_checkpoints meta_mapg_ipd_no_own_learning meta_mapg_ipd_om) \
  --output-dir "$out/ipd_ablation_om_300"
# Paper Fig. 2c: RPS.
rllib evaluate $(final_checkpoints meta_mapg_rps meta_pg_rps) --output-dir "$out/rps"
