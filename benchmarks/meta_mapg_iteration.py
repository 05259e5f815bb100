"""Meta-MAPG outer-iteration cost at the paper's IPD setting (K = 64, H = 150, L = 7).

Measures, on one CPU thread, side by side in one process:

- this package: sampling one chain (``sample_chain``: 8 batches of 64 trajectories and 7 inner
  updates of both agents, no graph) and one meta-gradient step on it (``replay_chain`` with
  ``create_graph`` plus the backward pass), i.e. one outer iteration on one chain;
- a straightforward baseline of the same meta-gradient, written the way a first
  implementation usually is: ``nn.LSTM`` called through ``torch.func.functional_call``,
  log-probabilities recomputed for the inner and the outer loss, one value pass per batch;
- one whole outer iteration of a meta-batch of 5 chains against 5 IPD training personas
  (sampling + the Learner's per-chain meta-gradients), chain by chain (``sample_chain`` and
  ``learner.per_chain_gradients``, the path before issue 16) and chain-batched (the C chains
  as one computation: ``sampling.sample_chains`` and ``learner.batched_chain_gradients``),
  alternated in the same process;
- a meta-validation pass over the 40 personas of the IPD validation split (one chain each, no
  meta-gradient; Algorithm 2), played as the EnvRunner plays it (groups of
  ``MAX_CHAINS_AT_ONCE`` chains), against one training chain's time;
- chains per second sampled by 1 and 2 remote ``MetaMAPGEnvRunner`` actors (Ray);
- the matrix-multiply work of one outer iteration (FLOPs counted by torch) and the time it
  takes alone at this core's measured rate for the LSTM's recurrent product: a floor that no
  reorganisation of the same computation in fp32 on this core can beat.

    python benchmarks/meta_mapg_iteration.py [--repeats 3] [--skip-ray] [--chains 5]

Times are CPU seconds of this process (``time.process_time``, one thread), so that other jobs
on a loaded machine inflate them less than wall-clock times; the chains-per-second rows of the
Ray actors are wall-clock.

The authors' reference implementation takes about 5.2 s per outer iteration on one core of
this machine (a quoted figure; that code is not run here).
"""

import argparse
import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch
from torch import nn
from torch.func import functional_call
from torch.utils.flop_counter import FlopCounterMode

from envs.matrix.batched import BatchedIteratedMatrixGame
from envs.matrix.games import ipd
from envs.matrix.personas import population_for_game
from rllib_meta.algorithms.meta_mapg.agent import MetaAgent
from rllib_meta.algorithms.meta_mapg.chain import LearningTerms
from rllib_meta.algorithms.meta_mapg.env_runner import MAX_CHAINS_AT_ONCE, chain_record
from rllib_meta.algorithms.meta_mapg.learner import batched_chain_gradients, per_chain_gradients
from rllib_meta.algorithms.meta_mapg.meta_gradient import ReplaySettings, replay_chain
from rllib_meta.algorithms.meta_mapg.sampling import sample_chain, sample_chains
from rllib_meta.core.dice import magic_box

K, H, L, GAMMA = 64, 150, 7, 0.96


def cpu_seconds(function: Callable[[], object]) -> float:
    start = time.process_time()
    function()
    return time.process_time() - start


def timed(function, repeats: int) -> float:
    """Median CPU seconds of ``repeats`` calls after a warm-up."""
    function()  # warm-up
    return statistics.median(cpu_seconds(function) for _ in range(repeats))


def ours(repeats: int):
    torch.manual_seed(0)
    agent = MetaAgent(num_states=5, num_actions=2, chain_length=L, inner_learning_rate=0.1)
    game = BatchedIteratedMatrixGame(ipd(), H, K)
    peers = [torch.log(torch.full((5, 2), 0.5))]
    generator = torch.Generator().manual_seed(0)
    settings = ReplaySettings(GAMMA, 0.95, 1.0, LearningTerms(True, True), "dice", 0.5)
    chain = sample_chain(agent, peers, game, L, GAMMA, 1.0, generator)

    def sample():
        sample_chain(agent, peers, game, L, GAMMA, 1.0, generator)

    def learn():
        losses = replay_chain(agent, chain.batches, peers, settings)
        (losses.actor_loss + losses.value_loss).backward()

    return timed(sample, repeats), timed(learn, repeats), chain, matmul_flops(sample, learn)


def training_personas(chains: int) -> list[torch.Tensor]:
    """The initial logits of ``chains`` IPD training personas (drawn with seed 0), one peer
    each: what a meta-batch's chains play against."""
    population = population_for_game("ipd")
    drawn = np.random.default_rng(0).choice(population.indices("train"), chains, replace=False)
    return [torch.from_numpy(logits).float() for logits in population.logits(drawn)]


def outer_iteration(chains: int, repeats: int) -> dict[str, float]:
    """CPU seconds per chain of one outer iteration on ``chains`` chains (sampling and the
    per-chain meta-gradients PCGrad combines), chain by chain and chain-batched, the two
    alternated ``repeats`` times after a warm-up (medians)."""
    torch.manual_seed(0)
    agent = MetaAgent(num_states=5, num_actions=2, chain_length=L, inner_learning_rate=0.1)
    game = BatchedIteratedMatrixGame(ipd(), H, K)
    games = BatchedIteratedMatrixGame(ipd(), H, chains * K)  # the C chains' games at once
    personas = training_personas(chains)
    generator = torch.Generator().manual_seed(0)
    settings = ReplaySettings(GAMMA, 0.95, 1.0, LearningTerms(True, True), "dice", 0.5)

    def sample() -> list[dict]:
        return [
            chain_record(sample_chain(agent, [peer], game, L, GAMMA, 1.0, generator), np.zeros(1))
            for peer in personas
        ]

    def sample_batched() -> list[dict]:
        peers = [[peer] for peer in personas]
        batched = sample_chains(agent, peers, games, L, GAMMA, 1.0, generator)
        return [chain_record(chain, np.zeros(1)) for chain in batched]

    records = sample_batched()
    paths = {
        "chain by chain: sampling": sample,
        "chain by chain: meta-gradients": lambda: per_chain_gradients(
            agent, records, settings, True
        ),
        "chain-batched: sampling": sample_batched,
        "chain-batched: meta-gradients": lambda: batched_chain_gradients(
            agent, records, settings, True
        ),
    }
    times = {name: [] for name in paths}
    for repeat in range(repeats + 1):
        for name, function in paths.items():
            seconds = cpu_seconds(function)
            if repeat:  # the first round warms up
                times[name].append(seconds / chains)
    return {name: statistics.median(values) for name, values in times.items()}


def validation_pass() -> tuple[int, float]:
    """CPU seconds of one chain per IPD validation persona, played chain-batched in groups of
    ``MAX_CHAINS_AT_ONCE`` (``MetaMAPGEnvRunner.meta_test``'s way), and the persona count."""
    torch.manual_seed(0)
    agent = MetaAgent(num_states=5, num_actions=2, chain_length=L, inner_learning_rate=0.1)
    population = population_for_game("ipd")
    peers = [[torch.from_numpy(p).float()] for p in population.logits(population.indices("val"))]
    games = {}
    generator = torch.Generator().manual_seed(0)

    def play():
        for start in range(0, len(peers), MAX_CHAINS_AT_ONCE):
            group = peers[start : start + MAX_CHAINS_AT_ONCE]
            game = games.setdefault(len(group), BatchedIteratedMatrixGame(ipd(), H, len(group) * K))
            sample_chains(agent, group, game, L, GAMMA, 1.0, generator)

    return len(peers), cpu_seconds(play)


def matmul_flops(*functions) -> float:
    """Floating-point operations of every matrix multiply the functions run (forward, backward
    and double backward), counted by torch's FlopCounterMode."""
    with FlopCounterMode(display=False) as counter:
        for function in functions:
            function()
    return counter.get_total_flops()


def matmul_rate(repeats: int = 500) -> float:
    """FLOP/s of one ``(64 x 64) @ (64 x 256)`` product, the recurrent step's shape."""
    left, right = torch.randn(K, 64), torch.randn(64, 256)
    seconds = timed(lambda: [left @ right for _ in range(repeats)], 3) / repeats
    return 2 * K * 64 * 256 / seconds


class NaivePolicy(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(5, 64)
        self.lstm = nn.LSTM(64, 64, batch_first=True)
        self.head = nn.Linear(64, 2)

    def forward(self, observations):
        hidden, _ = self.lstm(torch.relu(self.fc(observations)))
        return torch.log_softmax(self.head(hidden), -1)


def naive(chain, repeats: int) -> float:
    """The same second-order meta-gradient, straightforwardly (see the module docstring)."""
    torch.manual_seed(0)
    policy, value = NaivePolicy(), NaivePolicy()
    observations = [nn.functional.one_hot(b.states, 5).float() for b in chain.batches]
    discounts = GAMMA ** torch.arange(H)

    def log_probs(params, step):
        out = functional_call(policy, params, (observations[step],))
        return out.gather(-1, chain.batches[step].actions[0].unsqueeze(-1)).squeeze(-1)

    def learn():
        params = dict(policy.named_parameters())
        total = 0.0
        for step in range(L):
            rewards = chain.batches[step].rewards[0]
            inner = (magic_box(log_probs(params, step).cumsum(1)) * rewards * discounts).sum(1)
            grads = torch.autograd.grad(inner.mean(), list(params.values()), create_graph=True)
            params = {n: p + 0.1 * g for (n, p), g in zip(params.items(), grads, strict=True)}
            nxt = chain.batches[step + 1].rewards[0]
            values = value(observations[step + 1])[..., 0]
            total = total + (log_probs(params, step + 1) * (nxt - values.detach())).sum(1).mean()
            total = total + (values - nxt).pow(2).mean()
        total.backward()

    return timed(learn, repeats)


def chains_per_second(num_runners: int, chains: int) -> float:
    import ray

    import rllib_meta
    from rllib_meta.algorithms.meta_mapg.algorithm import MetaMAPG

    config = (
        MetaMAPG.get_default_config()
        .environment("ipd", env_config={"horizon": H})
        .training(chain_length=L, trajectories_per_step=K, chains_per_iteration=chains)
        .env_runners(num_env_runners=num_runners)
        .debugging(seed=0)
    )
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR",
                 runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}})  # fmt: skip
    rllib_meta.register_all()
    algorithm = config.build_algo()
    try:
        algorithm._sample_training_chains()  # warm-up
        start = time.perf_counter()
        records = algorithm._sample_training_chains()
        return len(records) / (time.perf_counter() - start)
    finally:
        algorithm.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-ray", action="store_true", help="skip the EnvRunner figures")
    parser.add_argument("--chains", type=int, default=5, help="chains of the outer iteration")
    args = parser.parse_args()
    torch.set_num_threads(1)
    sample, learn, chain, flops = ours(args.repeats)
    baseline = naive(chain, args.repeats)
    rate = matmul_rate()
    iteration = outer_iteration(args.chains, args.repeats)
    personas, validation = validation_pass()
    print(f"IPD, K={K}, H={H}, L={L}, one CPU thread, CPU seconds, median of {args.repeats}")
    print(f"{'sample one chain (EnvRunner side)':<48}{sample:>8.2f} s")
    print(f"{'meta-gradient step on one chain (Learner side)':<48}{learn:>8.2f} s")
    print(f"{'outer iteration on one chain (sum)':<48}{sample + learn:>8.2f} s")
    print(f"{'baseline meta-gradient step (naive, same math)':<48}{baseline:>8.2f} s")
    print(f"{'baseline / ours (Learner side)':<48}{baseline / learn:>8.2f} x")
    print(f"{'matrix-multiply work per outer iteration':<48}{flops / 1e9:>8.1f} GFLOP")
    print(f"{'this core, (64 x 64) @ (64 x 256)':<48}{rate / 1e9:>8.1f} GFLOP/s")
    print(f"{'matrix multiplies alone at that rate':<48}{flops / rate:>8.2f} s")
    floor = flops / rate
    print(f"outer iteration of {args.chains} chains, CPU seconds per chain:")
    totals = {}
    for path in ("chain by chain", "chain-batched"):
        for part in ("sampling", "meta-gradients"):
            print(f"{f'  {path}: {part}':<48}{iteration[f'{path}: {part}']:>8.2f} s")
        totals[path] = iteration[f"{path}: sampling"] + iteration[f"{path}: meta-gradients"]
        print(f"{f'  {path}: whole iteration':<48}{totals[path]:>8.2f} s")
        print(f"{f'  {path}: / matrix-multiply floor':<48}{totals[path] / floor:>8.2f} x")
    speedup = totals["chain by chain"] / totals["chain-batched"]
    print(f"{'  chain by chain / chain-batched':<48}{speedup:>8.2f} x")
    print(f"{f'meta-validation pass, {personas} personas':<48}{validation:>8.2f} s")
    for path in ("chain by chain", "chain-batched"):
        ratio = validation / totals[path]
        print(f"{f'  / one training chain ({path})':<48}{ratio:>8.2f} x")
    if not args.skip_ray:
        for runners in (1, 2):
            rate = chains_per_second(runners, chains=4)
            print(f"{f'chains per second, {runners} EnvRunner(s)':<48}{rate:>8.2f}")


if __name__ == "__main__":
    main()
