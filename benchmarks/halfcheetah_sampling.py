"""2-agent HalfCheetah env steps per second with two LSTM policies in the loop, on one core.

Rows, in one process: the batched core (``envs.mujoco.batched.BatchedHalfCheetah``) at
B = 64 cheetahs with both players' policies (``LSTMNet``: FC 64 -> LSTM 64 -> diagonal Gaussian,
paper 001 App. C.1, on the 17-value state) stepping all B observations in one forward pass per
time step, as a Meta-MAPG chain step samples its K = 64 trajectories; the same with the
meta-agent's graph kept (its inner update needs the log-probabilities, as
``meta_mapg.sampling.sample_trajectories`` keeps them); and MaMuJoCo's parallel env
(``halfcheetah_2x3``, ``mamujoco_v1.parallel_env("HalfCheetah", "2x3")`` underneath) stepped
in a Python loop, one env, with the same two policies at batch 1. Both physics alone (zero
torques, no policy) for reference. One env step = one step of one cheetah (5 physics steps).

Then seconds per outer iteration at the paper setting (K = 64, H = 200, L = 2, one chain):
``cheetah.sample_cheetah_chain`` (3 batches, both agents' inner steps), the chain's record, and
the Learner's meta-gradient (``meta_gradient.replay_chain`` with ``create_graph`` and the
backward pass of the actor and critic losses), for Meta-MAPG and for REINFORCE (no replay
through the chain). The paper's iteration is 5 such chains (5 threads).

Each figure is the median of ``--repeats`` runs timed in CPU seconds of this process (these
machines are shared; one torch thread, ``OMP_NUM_THREADS=1``). The target is a ratio of at
least 2.5 between the batched chain sampling and the MaMuJoCo loop.

    python benchmarks/halfcheetah_sampling.py [--episodes 2] [--loop-steps 2000] [--repeats 3]
        [--iteration-repeats 2]
"""

import argparse
import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

import envs
from envs.mujoco.batched import BatchedHalfCheetah
from rllib_meta.algorithms.meta_mapg.agent import MetaAgent
from rllib_meta.algorithms.meta_mapg.chain import LearningTerms
from rllib_meta.algorithms.meta_mapg.cheetah import sample_cheetah_chain
from rllib_meta.algorithms.meta_mapg.distributions import DiagonalGaussian
from rllib_meta.algorithms.meta_mapg.env_runner import (
    batches_from_record,
    chain_peers,
    cheetah_chain_record,
)
from rllib_meta.algorithms.meta_mapg.meta_gradient import ReplaySettings, replay_chain
from rllib_meta.algorithms.meta_mapg.networks import LSTMNet
from rllib_meta.algorithms.meta_mapg.teammates import teammate_network

BATCH = 64  # K, trajectories per chain step (paper)
HORIZON = 200  # H (paper)
TARGET = 2.5
CHAIN_LENGTH = 2  # L (paper)
GAMMA, GAE_LAMBDA, INNER_LR = 0.95, 0.95, 0.005  # paper 001 App. H Table 5 / reference code


def policies() -> list[LSTMNet]:
    torch.manual_seed(0)
    return [LSTMNet(17, 6, 64, DiagonalGaussian()) for _ in range(2)]


def gaussian_action(output: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    mean, log_std = output.detach().chunk(2, -1)
    noise = torch.randn(mean.shape, generator=generator)
    return mean + log_std.clamp(-5.0, 2.0).exp() * noise


def batched_sampling(episodes: int, keep_graph: bool) -> int:
    """``episodes`` batches of B trajectories; returns the env steps taken."""
    core = BatchedHalfCheetah(BATCH, HORIZON, seed=0)
    nets = policies()
    generator = torch.Generator().manual_seed(0)
    for _ in range(episodes):
        steppers = [net.stepper() for net in nets]
        states = [net.initial_state(BATCH) for net in nets]
        observation = core.reset()
        kept = []
        for _ in range(HORIZON):
            obs = torch.from_numpy(observation).to(torch.float32)
            actions = []
            for player, (step, state) in enumerate(zip(steppers, states, strict=True)):
                with torch.set_grad_enabled(keep_graph and player == 0):
                    output, states[player] = step(obs, state)
                if keep_graph and player == 0:
                    kept.append(output)
                actions.append(gaussian_action(output, generator))
            observation, _, _ = core.step(torch.cat(actions, 1).numpy())
        if kept:
            torch.stack(kept, 1).sum().backward()  # the graph was real; free it
    return episodes * BATCH * HORIZON


def mamujoco_loop(steps: int) -> int:
    """``halfcheetah_2x3`` (MaMuJoCo underneath), one env, both policies at batch 1."""
    env = envs.make("halfcheetah_2x3", horizon=HORIZON)
    nets = policies()
    generator = torch.Generator().manual_seed(0)
    players = env.possible_agents
    done = 0
    with torch.no_grad():
        while done < steps:
            observations, _ = env.reset(seed=done)
            steppers = [net.stepper() for net in nets]
            states = [net.initial_state(1) for net in nets]
            while env.agents and done < steps:
                actions = {}
                for player, agent in enumerate(players):
                    obs = torch.from_numpy(observations[agent]).to(torch.float32).unsqueeze(0)
                    output, states[player] = steppers[player](obs, states[player])
                    actions[agent] = gaussian_action(output, generator)[0].numpy()
                observations, *_ = env.step(actions)
                done += 1
    return done


def batched_physics(episodes: int) -> int:
    core = BatchedHalfCheetah(BATCH, HORIZON, seed=0)
    zeros = np.zeros((BATCH, 6))
    for _ in range(episodes):
        core.reset()
        for _ in range(HORIZON):
            core.step(zeros)
    return episodes * BATCH * HORIZON


def mamujoco_physics(steps: int) -> int:
    env = envs.make("halfcheetah_2x3", horizon=HORIZON)
    zeros = dict.fromkeys(env.possible_agents, np.zeros(3, np.float32))
    done = 0
    while done < steps:
        env.reset(seed=done)
        while env.agents and done < steps:
            env.step(zeros)
            done += 1
    return done


def outer_iteration(meta_gradient: str) -> None:
    """One chain at the paper setting: sampling with both inner steps, then the Learner's
    meta-gradient of its losses (``meta_gradient``: "meta" for Meta-MAPG, "reinforce")."""
    torch.manual_seed(0)
    agent = MetaAgent(17, 3, CHAIN_LENGTH, INNER_LR, 64, DiagonalGaussian())
    teammate = teammate_network()
    core = BatchedHalfCheetah(BATCH, HORIZON, seed=0)
    generator = torch.Generator().manual_seed(0)
    params = dict(teammate.named_parameters())
    chain = sample_cheetah_chain(
        agent, teammate, params, core, CHAIN_LENGTH, GAMMA, INNER_LR, generator
    )
    record = cheetah_chain_record(chain, np.asarray([0]))
    peers, peer_policy = chain_peers(record)
    terms = LearningTerms(meta_gradient == "meta", meta_gradient == "meta")
    settings = ReplaySettings(
        GAMMA, GAE_LAMBDA, INNER_LR, terms, meta_gradient=meta_gradient, peer_policy=peer_policy
    )
    losses = replay_chain(agent, batches_from_record(record), peers, settings)
    (losses.actor_loss + losses.value_loss).backward()


def seconds_per_call(run: Callable[[], None], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.process_time()
        run()
        times.append(time.process_time() - started)
    return statistics.median(times)


def steps_per_second(run: Callable[[], int], repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        started = time.process_time()
        steps = run()
        rates.append(steps / (time.process_time() - started))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--episodes", type=int, default=2, help="batches of B per batched run")
    parser.add_argument("--loop-steps", type=int, default=2000, help="steps per MaMuJoCo run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--iteration-repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = {
        f"batched core, B = {BATCH}, two LSTM-64 policies": lambda: batched_sampling(
            args.episodes, keep_graph=False
        ),
        f"batched core, B = {BATCH}, two LSTM-64 policies, meta-agent's graph kept": (
            lambda: batched_sampling(args.episodes, keep_graph=True)
        ),
        "MaMuJoCo parallel env loop, two LSTM-64 policies": lambda: mamujoco_loop(args.loop_steps),
        f"batched core, B = {BATCH}, physics only (zero torques)": lambda: batched_physics(
            args.episodes
        ),
        "MaMuJoCo parallel env loop, physics only (zero torques)": lambda: mamujoco_physics(
            args.loop_steps
        ),
    }
    rates = {}
    print(f"{'sampler':<76} {'env steps/s':>12}")
    for name, run in rows.items():
        rates[name] = steps_per_second(run, args.repeats)
        print(f"{name:<76} {rates[name]:>12,.0f}")
    names = list(rows)
    for batched in names[:2]:
        ratio = rates[batched] / rates[names[2]]
        verdict = "meets" if ratio >= TARGET else "misses"
        print(f"ratio {batched!r} / MaMuJoCo loop: {ratio:.2f}x ({verdict} the {TARGET}x target)")
    report_outer_iterations(args.iteration_repeats)


def report_outer_iterations(repeats: int) -> None:
    print(
        f"\nseconds per outer iteration, paper setting (K = {BATCH}, H = {HORIZON}, "
        f"L = {CHAIN_LENGTH}), one chain: sampling + meta-gradient, CPU s, median of {repeats}"
    )
    for name, gradient in (("Meta-MAPG / Meta-PG", "meta"), ("REINFORCE", "reinforce")):
        seconds = seconds_per_call(lambda g=gradient: outer_iteration(g), repeats)
        print(f"{name:<24} {seconds:6.2f} s per chain, {5 * seconds:6.1f} s per paper iteration")


if __name__ == "__main__":
    main()
