"""MRA throughput on one CPU thread, side by side in one run (issue 13, item 5).

(a) Sampling: agent-steps per second of the MRA EnvRunner (``ParticleEnvRunner.sample``: the
    latent draws, one batched relation-network + policy pass per step, the action draws and the
    transitions as world states) on resource occupation with 12 agents and 1024 games, with the
    fused acting forward (``acting.acting_logits``) and with the networks' own forward
    (``MRANetworks.forward``, what the runner called before), against the bare batched core
    (:class:`envs.particle.BatchedParticleWorld`) stepping uniformly random actions on the same
    game. Target: 200k agent-steps/s with the policy.
(b) Learner: transitions per second of one critic step (Eq. 8) and one policy step (Eq. 9) of
    ``MRALearner`` on a minibatch of 1024 transitions of the 12-agent game (networks over all
    agents at once, chunk by chunk of the minibatch), against the same two steps on the whole
    minibatch at once (the previous ``MRALearner``, kept here as :func:`whole_minibatch_step`)
    and against a straightforward implementation of the same two losses that loops over the
    agents (the same networks on one agent's slice at a time, the same optimizer steps).
    Target: 3x the straightforward version.
(c) The matrix-product floor: the FLOPs of (a)'s forward and of (b)'s update in matrix products
    (``torch.utils.flop_counter``) over the core's measured rate on a large product; whatever
    else runs (elementwise ops, softmax, copies) comes on top.

Every figure is CPU time of this process (``time.process_time``; the machines are shared and
loaded), the median of ``--repeats`` timed runs; compare the ratios within one run.

    python benchmarks/mra_throughput.py [--repeats 3] [--envs 1024] [--batch 1024]
"""

import argparse
import os
import statistics
import time
from contextlib import contextmanager

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import ray
import torch
from torch.utils.flop_counter import FlopCounterMode

from envs.particle import BatchedParticleWorld, resource_occupation
from envs.particle.batched import keep_freed_memory
from rllib_meta.algorithms.mra import env_runner as runner_module
from rllib_meta.algorithms.mra import losses
from rllib_meta.algorithms.mra.algorithm import MRA
from rllib_meta.algorithms.mra.attention import gather_others

N = 12
STEPS = 20  # one episode


def median_rate(run, work: int, repeats: int) -> float:
    """``work`` units per CPU second of ``run()``, the median of ``repeats`` timed calls."""
    times = []
    for _ in range(repeats):
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return work / statistics.median(times)


@contextmanager
def reference_acting():
    """The EnvRunner acting with ``MRANetworks.forward`` (the path before the fusion)."""
    fused = runner_module.acting_logits
    runner_module.acting_logits = lambda nets, obs, z: nets(obs, z)[0]
    try:
        yield
    finally:
        runner_module.acting_logits = fused


def matmul_rate(repeats: int) -> float:
    """FLOP/s of one large float32 matrix product on this core (the floor's rate)."""
    a, b, bias = torch.randn(12288, 128), torch.randn(128, 256), torch.randn(256)
    return median_rate(lambda: torch.addmm(bias, a, b), 2 * 12288 * 128 * 256, max(repeats, 5))


def matmul_flops(run) -> int:
    """FLOPs in matrix products (forward and backward) of one ``run()``."""
    with FlopCounterMode(display=False) as counter:
        run()
    return counter.get_total_flops()


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


def _view(obs, agents):
    return {key: value[:, agents] for key, value in obs.items()}


def _draw(logits, generator):
    probs = torch.softmax(logits, -1).flatten(0, -2)
    return torch.multinomial(probs, 1, generator=generator).view(logits.shape[:-1])


def whole_minibatch_critic_loss(learner, batch):
    """Eq. 8 on the whole minibatch at once, as ``MRALearner.critic_step`` computed it before
    the chunking: returns ``(loss, params)``. Also the reference of
    tests/algorithms/mra/test_learner_chunks.py."""
    roles = list(learner._roles_of(batch.game))
    config, slots = learner.config, learner.num_slots
    with torch.no_grad():
        next_logits = [
            nets.target_policy(_view(batch.next_obs, agents), graph)
            for (nets, agents), graph in zip(roles, batch.next_graphs, strict=True)
        ]
        next_actions = torch.cat([_draw(x, learner.generator) for x in next_logits], 1)
        others_next = gather_others(next_actions, slots)
        targets = [
            losses.soft_q_target(
                batch.rewards[:, agents],
                batch.terminated[:, agents],
                x,
                nets.target_critic(_view(batch.next_obs, agents), others_next[:, agents], graph),
                config.gamma,
                learner.alpha,
            )
            for (nets, agents), graph, x in zip(roles, batch.next_graphs, next_logits, strict=True)
        ]
    others = gather_others(batch.actions, slots)
    loss = sum(
        losses.critic_loss(
            nets.critic(_view(batch.obs, agents), others[:, agents], graph),
            batch.actions[:, agents],
            target,
            batch.mask[:, agents],
        )
        for (nets, agents), graph, target in zip(roles, batch.graphs, targets, strict=True)
    )
    return loss, learner.group_params("critic")


def whole_minibatch_policy_loss(learner, batch):
    """Eq. 9 on the whole minibatch at once, as ``MRALearner.policy_step`` computed it before
    the chunking: returns ``(loss, params)``."""
    roles = list(learner._roles_of(batch.game))
    logits = [
        nets.policy(_view(batch.obs, agents), graph)
        for (nets, agents), graph in zip(roles, batch.graphs, strict=True)
    ]
    with torch.no_grad():
        current = torch.cat([_draw(x.detach(), learner.generator) for x in logits], 1)
        others = gather_others(current, learner.num_slots)
        q_values = [
            nets.critic(_view(batch.obs, agents), others[:, agents], graph)
            for (nets, agents), graph in zip(roles, batch.graphs, strict=True)
        ]
    loss = sum(
        losses.policy_loss(x, q, learner.alpha, batch.mask[:, agents])
        for x, q, (_, agents) in zip(logits, q_values, roles, strict=True)
    )
    return loss, learner.group_params("policy")


def whole_minibatch_step(learner, batch) -> None:
    """The previous ``critic_step`` + ``policy_step``: each loss on the whole minibatch."""
    learner.step_on_loss(*whole_minibatch_critic_loss(learner, batch))
    learner.step_on_loss(*whole_minibatch_policy_loss(learner, batch))


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
    wall = time.perf_counter()
    try:
        runner, learner = algorithm.env_runner, algorithm.learner_group._learner
        bare = bare_core_rate(args.envs, args.repeats)
        transitions = {}

        def sample() -> None:
            transitions["last"] = runner.sample()["transitions"]

        steps = STEPS * args.envs * N
        sampled = median_rate(sample, steps, args.repeats)
        with reference_acting():
            sampled_before = median_rate(sample, steps, args.repeats)
        learner.update_from_transitions(transitions["last"])  # fills the buffer, no update
        game = learner.games[0]
        batch = learner.minibatch(game)

        def chunked() -> None:
            learner.critic_step(batch)
            learner.policy_step(batch)

        fast = median_rate(chunked, args.batch, args.repeats)
        whole = median_rate(lambda: whole_minibatch_step(learner, batch), args.batch, args.repeats)
        slow = median_rate(lambda: looped_step(learner, batch), args.batch, args.repeats)
        minibatch = median_rate(lambda: learner.minibatch(game), args.batch, args.repeats)
        rate = matmul_rate(args.repeats)
        obs = {key: torch.from_numpy(v) for key, v in runner.worlds[0].observe().items()}
        nets, z = learner.roles["agent"], runner.latents[0]
        act_flops = matmul_flops(lambda: runner_module.acting_logits(nets, obs, z))
        act_flops_before = matmul_flops(lambda: nets(obs, z))
        update_flops = matmul_flops(chunked)
    finally:
        algorithm.stop()
    wall = time.perf_counter() - wall
    print(
        f"MRA throughput, resource occupation N = {N}, one thread, CPU time, median of "
        f"{args.repeats} ({wall:.0f} s wall)"
    )
    print(f"(a) sampling, {args.envs} games, agent-steps per CPU second")
    print(f"    bare batched core, random actions       {bare:>12,.0f}")
    print(
        f"    MRA EnvRunner, fused acting forward     {sampled:>12,.0f}  ({sampled / bare:.3f}x "
        f"core, {sampled / sampled_before:.2f}x before)"
    )
    print(f"    MRA EnvRunner, MRANetworks.forward      {sampled_before:>12,.0f}  (before)")
    print(
        f"(b) Learner, batch {args.batch}, transitions per CPU second of one critic + policy step"
    )
    print(
        f"    all agents, chunked (MRALearner)        {fast:>12,.0f}  ({fast / slow:.2f}x loop, "
        f"{fast / whole:.2f}x whole minibatch)"
    )
    print(
        f"    all agents, whole minibatch (before)    {whole:>12,.0f}  ({whole / slow:.2f}x loop)"
    )
    print(f"    loop over agents                        {slow:>12,.0f}")
    print(f"    building a minibatch (observe, graphs)  {minibatch:>12,.0f}")
    print(f"(c) matrix-product floor at {rate / 1e9:.0f} GFLOP/s (one 12288x128x256 product)")
    for name, flops, work, reached in (
        ("acting forward, fused", act_flops, args.envs * N, None),
        ("acting forward, MRANetworks.forward", act_flops_before, args.envs * N, None),
        ("critic + policy step", update_flops, args.batch, fast),
    ):
        floor = work * rate / flops
        line = f"    {name:<37}{flops / 1e9:>6.2f} GFLOP per call -> at most {floor:>10,.0f}/s"
        if reached is not None:
            line += f" ({floor / slow:.1f}x loop)"
        print(line)


if __name__ == "__main__":
    main()
