"""MRA throughput on one CPU thread, side by side in one run (issue 13, item 5).

(a) Sampling: agent-steps per second of the MRA EnvRunner (``ParticleEnvRunner.sample``: the
    latent draws, one batched relation-network + policy pass per step, the action draws and the
    transitions as world states) on resource occupation with N = 12 agents and 1024 games,
    against the bare batched core (:class:`envs.particle.BatchedParticleWorld`) stepping
    uniformly random actions on the same game. Target: 200k agent-steps/s with the policy.
(b) Learner: transitions per second of one critic step (Eq. 8) and one policy step (Eq. 9) of
    ``MRALearner`` on a minibatch of 1024 transitions of the 12-agent game (networks over all
    agents at once), against a straightforward implementation of the same two losses that
    loops over the agents (the same networks on one agent's slice at a time, the same
    optimizer steps). Target: 3x the straightforward version.

Each figure is the median of ``--repeats`` timed runs; the machines are shared and noisy.

    python benchmarks/mra_throughput.py [--repeats 3] [--envs 1024] [--batch 1024]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import ray
import torch

from envs.particle import BatchedParticleWorld, resource_occupation
from envs.particle.batched import keep_freed_memory
from rllib_meta.algorithms.mra import losses
from rllib_meta.algorithms.mra.algorithm import MRA
from rllib_meta.algorithms.mra.attention import gather_others

N = 12
STEPS = 20  # one episode


def median_rate(run, work: int, repeats: int) -> float:
    """``work`` units per second of ``run()``, the median of ``repeats`` timed calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return work / statistics.median(times)


def bare_core_rate(envs: int, repeats: int) -> float:
    world = BatchedParticleWorld(resource_occupation(N), envs, seed=0, max_agents=N)
    world.reset()
    rng = np.random.default_rng(0)

    def run() -> None:
        for _ in range(STEPS):
            _, _, _, truncated = world.step(rng.integers(0, 5, (envs, N)))
            if truncated.any():
                world.reset(truncated)

    return median_rate(run, STEPS * envs * N, repeats)


def mra_config(envs: int, batch: int):
    return (
        MRA.get_default_config()
        .environment("resource_occupation")
        .training(
            training_populations=[N],
            envs_per_population=envs,
            rollout_steps=STEPS,
            replay_batch_size=batch,
            learning_starts=10**9,  # the benchmark times the steps itself
        )
        .debugging(seed=0)
    )


def looped_step(learner, batch) -> None:
    """Eq. 8 and Eq. 9 agent by agent: every network called on one agent's ``(B, 1, ...)``
    slice, the other agents' next and current actions drawn agent by agent."""
    nets = learner.roles["agent"]
    config, alpha, slots = learner.config, learner.alpha, learner.num_slots
    agents = range(batch.actions.shape[1])

    def view(obs, i):
        return {key: value[:, i : i + 1] for key, value in obs.items()}

    with torch.no_grad():
        next_logits = [
            nets.target_policy(view(batch.next_obs, i), batch.next_graphs[0][:, i : i + 1])
            for i in agents
        ]
        next_actions = torch.cat(
            [torch.distributions.Categorical(logits=x).sample() for x in next_logits], 1
        )
        others_next = gather_others(next_actions, slots)
        targets = []
        for i in agents:
            graph = batch.next_graphs[0][:, i : i + 1]
            q = nets.target_critic(view(batch.next_obs, i), others_next[:, i : i + 1], graph)
            targets.append(
                losses.soft_q_target(
                    batch.rewards[:, i : i + 1],
                    batch.terminated[:, i : i + 1],
                    next_logits[i],
                    q,
                    config.gamma,
                    alpha,
                )
            )
    others = gather_others(batch.actions, slots)
    critic = sum(
        losses.critic_loss(
            nets.critic(view(batch.obs, i), others[:, i : i + 1], batch.graphs[0][:, i : i + 1]),
            batch.actions[:, i : i + 1],
            targets[i],
        )
        for i in agents
    )
    learner.step_on_loss(critic, learner.group_params("critic"))
    logits = [nets.policy(view(batch.obs, i), batch.graphs[0][:, i : i + 1]) for i in agents]
    with torch.no_grad():
        current = torch.cat(
            [torch.distributions.Categorical(logits=x.detach()).sample() for x in logits], 1
        )
        others = gather_others(current, slots)
        q_values = [
            nets.critic(view(batch.obs, i), others[:, i : i + 1], batch.graphs[0][:, i : i + 1])
            for i in agents
        ]
    policy = sum(losses.policy_loss(x, q, alpha) for x, q in zip(logits, q_values, strict=True))
    learner.step_on_loss(policy, learner.group_params("policy"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--envs", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--keep-freed-memory", action="store_true")
    args = parser.parse_args()
    if args.keep_freed_memory:
        keep_freed_memory()
    torch.set_num_threads(1)
    ray.init(num_cpus=1, include_dashboard=False, logging_level="ERROR")
    algorithm = mra_config(args.envs, args.batch).build_algo()
    try:
        runner, learner = algorithm.env_runner, algorithm.learner_group._learner
        bare = bare_core_rate(args.envs, args.repeats)
        transitions = {}

        def sample() -> None:
            transitions["last"] = runner.sample()["transitions"]

        sampled = median_rate(sample, STEPS * args.envs * N, args.repeats)
        learner.update_from_transitions(transitions["last"])  # fills the buffer, no update
        game = learner.games[0]
        batch = learner.minibatch(game)

        def vectorised() -> None:
            learner.critic_step(batch)
            learner.policy_step(batch)

        fast = median_rate(vectorised, args.batch, args.repeats)
        slow = median_rate(lambda: looped_step(learner, batch), args.batch, args.repeats)
        minibatch = median_rate(lambda: learner.minibatch(game), args.batch, args.repeats)
    finally:
        algorithm.stop()
    print(f"MRA throughput, resource occupation N = {N}, one thread, median of {args.repeats}")
    print(f"(a) sampling, {args.envs} games, agent-steps/s")
    print(f"    bare batched core, random actions   {bare:>12,.0f}")
    print(
        f"    MRA EnvRunner, policy in the loop   {sampled:>12,.0f}  ({sampled / bare:.2f}x core)"
    )
    print(f"(b) Learner, batch {args.batch}, transitions/s of one critic + one policy step")
    print(f"    all agents at once (MRALearner)     {fast:>12,.0f}")
    print(
        f"    loop over agents                    {slow:>12,.0f}  (MRALearner {fast / slow:.2f}x)"
    )
    print(f"    building a minibatch (observe)      {minibatch:>12,.0f}")


if __name__ == "__main__":
    main()
