#!/usr/bin/env bash
# Reduced-scale reproduction of paper 001 Fig. 2a/2b (IPD against cooperating and defecting
# test personas) on a 2-core machine: the paper's tuned examples with K = 32 trajectories per
# chain step, H = 50, L = 3 and 2 chains per meta-update instead of K = 64, H = 150, L = 7 and
# 5 workers. Usage: experiments/meta_mapg_ipd_small.sh ALGORITHM SEED [ITERATIONS]
#   ALGORITHM: meta_mapg | meta_pg | reinforce | lola_dice | meta_mapg_ipd_om ...
# (the tuned example tuned_examples/${ALGORITHM}_ipd.yaml). Results under results/small/.
set -euo pipefail
algorithm=$1
seed=$2
iterations=${3:-600}
example=tuned_examples/${algorithm}_ipd.yaml
[ -f "$example" ] || example=tuned_examples/${algorithm}.yaml
config=$(printf '{"chain_length": 3, "trajectories_per_step": 32, "chains_per_iteration": 2, "env_config": {"horizon": 50}, "validation_interval": 25, "seed": %d}' "$seed")
rllib train file "$example" --config "$config" \
  --stop "{\"training_iteration\": $iterations}" --checkpoint-freq 25 \
  --storage-path "$PWD/results/small/seed$seed"
