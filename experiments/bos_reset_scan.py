"""The setting scan behind tuned_examples/stackelberg_bos_reset_demo.yaml (paper 003 App. B):
FollowerLearningDemo in-process over follower episodes x epsilon x alpha x leader batch, reset
and continuous, several seeds; prints, per cell, how many seeds end at (C,C) / (D,D) / neither.

    python experiments/bos_reset_scan.py --seeds 12 [--leader-batch follower_learning]
"""

from __future__ import annotations

import argparse
import itertools

import ray

from rllib_meta.algorithms.follower_learning_demo.algorithm import FollowerLearningDemo

UPDATES = 200


def final_outcome(settings: dict, seed: int) -> str:
    config = (
        FollowerLearningDemo.get_default_config()
        .environment("battle_of_sexes", env_config={"scaled": True})
        .update_from_dict({**settings, "lr": 0.05, "seed": seed})
    )
    algorithm = config.build_algo()
    try:
        for _ in range(UPDATES):
            metrics = algorithm.train()["follower_learning_demo"]
    finally:
        algorithm.stop()
    if metrics["outcome_is_stackelberg"]:
        return "stackelberg"
    return "nash" if metrics["outcome_is_follower_nash"] else "neither"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=12)
    parser.add_argument(
        "--leader-batch", nargs="+", default=["follower_learning", "after_learning"]
    )
    args = parser.parse_args()
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    print("| episodes | epsilon | alpha | leader batch | reset (C,C)/(D,D)/neither | continuous |")
    print("|---|---|---|---|---|---|")
    for batch, episodes, epsilon, alpha in itertools.product(
        args.leader_batch, (10, 30, 100), (0.1, 0.3), (0.1, 0.5)
    ):
        cells = []
        for reset in (True, False):
            settings = {
                "follower_reset": reset,
                "follower_episodes": episodes,
                "follower_epsilon": epsilon,
                "follower_alpha": alpha,
                "leader_batch": batch,
            }
            outcomes = [final_outcome(settings, seed) for seed in range(args.seeds)]
            counts = [outcomes.count(o) for o in ("stackelberg", "nash", "neither")]
            cells.append("/".join(str(c) for c in counts))
        print(
            f"| {episodes} | {epsilon} | {alpha} | {batch} | {cells[0]} | {cells[1]} |", flush=True
        )


if __name__ == "__main__":
    main()
