#!/usr/bin/env bash
# Meta-tests the runs of experiments/meta_mapg_small.sh on the test personas (each run at its
# checkpoint with the best validation AUC; one checkpoint per seed gives mean and 95% CI) and
# writes tables (stdout) and plots under OUT (default docs/figures/small).
set -euo pipefail
out=${1:-docs/figures/small}
runs() { for tag in "$@"; do ls -d results/small/"$tag"/seed*/*/ 2>/dev/null || true; done; }
# Paper Fig. 2a/2b: IPD, cooperating and defecting test personas.
rllib evaluate $(runs meta_mapg_ipd meta_pg_ipd lola_dice_ipd reinforce_ipd) \
  --output-dir "$out/ipd"
# Paper Fig. 3c question: out-of-distribution test personas (our test_ood split).
rllib evaluate $(runs meta_mapg_ipd meta_pg_ipd) --split test_ood --output-dir "$out/ipd_ood"
# Paper Fig. 4c (ablation) and Fig. 4a (opponent modeling).
rllib evaluate $(runs meta_mapg_ipd meta_pg_ipd meta_mapg_ipd_no_own_learning meta_mapg_ipd_om) \
  --output-dir "$out/ipd_ablation_om"
# Paper Fig. 2c: RPS.
rllib evaluate $(runs meta_mapg_rps meta_pg_rps) --output-dir "$out/rps"
