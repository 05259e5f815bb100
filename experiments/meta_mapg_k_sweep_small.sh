#!/usr/bin/env bash
# Paper 001 Fig. 3a at the reduced scale of experiments/meta_mapg_small.sh: the Tune sweep
# tuned_examples/meta_mapg_ipd_k_sweep.yaml (K in {4, 8, 16, 32, 64}) with H = 50, L = 3,
# 2 chains per meta-update, validation every 25 iterations, one trial at a time (one CPU).
#   experiments/meta_mapg_k_sweep_small.sh SEED [ITERATIONS]
# Results go to results/small/k_sweep/seedSEED; evaluate the final checkpoints with
#   rllib evaluate results/small/k_sweep/seed*/*/*/checkpoint_<last> --output-dir ...
set -euo pipefail
seed=$1
iterations=${2:-600}
config="{\"chain_length\": 3, \"chains_per_iteration\": 2, \"env_config\": {\"horizon\": 50},
 \"validation_interval\": 25, \"seed\": $seed}"
rllib train file tuned_examples/meta_mapg_ipd_k_sweep.yaml --config "$config" \
  --stop "{\"training_iteration\": $iterations}" --checkpoint-freq 25 --ray-num-cpus 1 \
  --storage-path "$PWD/results/small/k_sweep/seed$seed"
