#!/usr/bin/env bash
# Paper 001's IPD experiment closer to the paper's scale (issue 17 item 3): the tuned example's
# paper settings (K = 64 trajectories per chain step, H = 150, 5 chains per meta-update,
# meta-validated every 10 iterations) with chain length L = 3 instead of 7.
#   experiments/meta_mapg_ipd_l3.sh EXAMPLE SEED [ITERATIONS]
# EXAMPLE names tuned_examples/EXAMPLE.yaml (meta_mapg_ipd, meta_pg_ipd, lola_dice_ipd,
# reinforce_ipd); results go to results/ipd_l3/EXAMPLE/seedSEED. Meta-test with
# experiments/evaluate_ipd_l3.sh.
set -euo pipefail
example=$1
seed=$2
iterations=${3:-1000}
rllib train file "tuned_examples/$example.yaml" \
  --config "{\"chain_length\": 3, \"seed\": $seed}" \
  --stop "{\"training_iteration\": $iterations}" \
  --storage-path "$PWD/results/ipd_l3/$example/seed$seed"
