#!/usr/bin/env bash
# Reduced-scale runs of paper 001's experiments on a 2-core machine: a tuned example with
# K = 32 trajectories per chain step, H = 50, L = 3 and 2 chains per meta-update (instead of
# K = 64, H = 150, L = 7 and 5 workers), meta-validated every 25 iterations.
#   experiments/meta_mapg_small.sh EXAMPLE SEED [ITERATIONS] [EXTRA_CONFIG_JSON] [TAG]
# EXAMPLE names tuned_examples/EXAMPLE.yaml (e.g. meta_mapg_ipd, lola_dice_ipd,
# meta_mapg_rps); EXTRA_CONFIG_JSON is merged into the scale settings (e.g.
# '{"peer_learning": false}'); results go to results/small/TAG/seedSEED (TAG defaults to
# EXAMPLE). Evaluate with: rllib evaluate results/small/TAG/seed*/* --output-dir ...
set -euo pipefail
example=$1
seed=$2
iterations=${3:-600}
extra=${4:-"{}"}
tag=${5:-$example}
config=$(python3 -c '
import json, sys
scale = {"chain_length": 3, "trajectories_per_step": 32, "chains_per_iteration": 2,
         "env_config": {"horizon": 50}, "validation_interval": 25, "seed": int(sys.argv[1])}
extra = json.loads(sys.argv[2])
scale["env_config"].update(extra.pop("env_config", {}))
print(json.dumps({**scale, **extra}))' "$seed" "$extra")
rllib train file "tuned_examples/$example.yaml" --config "$config" \
  --stop "{\"training_iteration\": $iterations}" --checkpoint-freq 25 \
  --storage-path "$PWD/results/small/$tag/seed$seed"
