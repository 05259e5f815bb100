"""Why the pre-trained Stackelberg follower keeps a regret (issue 17 item 5; paper 003 phase 1).

The follower of paper 003 is a linear, bias-free model on the one-hot pair (state, context):
one row of logits per (state, leader), so it can represent every stationary response to every
one of the 32 deterministic leaders, and the 32 problems are independent (capacity is not the
question). This script separates the other candidate causes with exact computation, no sampling:

1. **The landscape.** For each game and leader it enumerates the 32 deterministic stationary
   follower policies and counts the *traps*: policies that no change of the action in a single
   state improves but that are worse than the best one. A follower that follows (an estimate
   of) its policy gradient from near-uniform logits can end in a trap; flipping one on-path
   action changes which states come next, so escaping can need two flips at once.
2. **Exact policy gradient.** The follower's expected return under its softmax policy is
   computed exactly (forward recursion over the 5 states for the 10 steps) and climbed with
   Adam at the paper's learning rate 0.02 from torch's default initialisation of the 160-input
   table, for the same number of steps as pre-training (500) and for many more (20,000). The
   regret of the greedy policy at the end shows what the learning rule reaches without any
   sampling noise or exploration problem.
3. **Stochastic stationary optima.** Without the time step in its input a follower's best
   stationary policy can be stochastic; the script reports where the converged exact-gradient
   policy earns more than the best deterministic one (then its greedy table, which the regret
   measures, cannot be optimal).

    python experiments/stackelberg_follower_landscape.py --seeds 20
"""

from __future__ import annotations

import argparse
import math

import torch

from envs.matrix.games import CANONICAL_GAME_NAMES, canonical_game
from envs.matrix.stackelberg import (
    FOLLOWER,
    NUM_ACTIONS,
    NUM_POLICIES,
    NUM_STATES,
    deterministic_returns,
    memory_one_policies,
    stationary_response_returns,
    stochastic_follower_returns,
    time_aware_best_response,
)

HORIZON = 10
INPUTS = NUM_STATES * NUM_POLICIES  # the follower's one-hot (state, context) input


def payoff_table(game: str) -> torch.Tensor:
    """``(2, 2, 2)`` float64 payoffs ``[leader action, follower action, player]``."""
    return torch.tensor(canonical_game(game).payoffs, dtype=torch.float64)


def expected_follower_return(logits: torch.Tensor, game: str, time_aware: bool) -> torch.Tensor:
    """``(..., 32)``: the follower's exact expected return under ``softmax(logits)`` (stationary
    ``(..., 32, 5, 2)`` or time-indexed ``(..., 32, 10, 5, 2)``) against the 32 leaders."""
    probs = torch.softmax(logits, dim=-1)
    returns = stochastic_follower_returns(
        payoff_table(game), memory_one_policies(), probs, HORIZON, time_indexed=time_aware
    )
    return returns[..., FOLLOWER]


def deterministic_values(game: str) -> torch.Tensor:
    """``(32 leaders, 32 followers)``: the follower's return of every deterministic pair."""
    returns = stationary_response_returns(payoff_table(game), memory_one_policies(), HORIZON)
    return returns[..., FOLLOWER]


def single_flip_neighbours() -> torch.Tensor:
    """``(32, 5)``: the follower policy index reached by flipping the action in state ``s``."""
    index = torch.arange(NUM_POLICIES)[:, None]
    return index ^ (1 << torch.arange(NUM_STATES))[None, :]


def traps(values: torch.Tensor) -> torch.Tensor:
    """``(32 leaders, 32 followers)`` bool: no single flip improves, yet below the best."""
    neighbours = values[:, single_flip_neighbours()]  # (L, F, 5)
    local = (neighbours <= values[..., None] + 1e-9).all(-1)
    return local & (values < values.max(-1, keepdim=True).values - 1e-9)


def default_initial_logits(seeds: int, time_aware: bool) -> torch.Tensor:
    """``(seeds, 32 leaders, [10,] 5, 2)``: each seed's nn.Linear(inputs, 2, bias=False)
    default initialisation (uniform within 1 / sqrt(fan_in)), as the follower's table starts;
    its one-hot input is (state, context), or (step, state, context) when time-aware."""
    steps = HORIZON if time_aware else 1
    inputs = steps * INPUTS
    tables = []
    for seed in range(seeds):
        generator = torch.Generator().manual_seed(seed)
        uniform = torch.rand(NUM_ACTIONS, inputs, generator=generator, dtype=torch.float64)
        weight = (uniform * 2 - 1) / math.sqrt(inputs)
        # Row (t * 5 + s) * 32 + c of weight.T: step t, state s, context (leader) c.
        table = weight.T.reshape(steps, NUM_STATES, NUM_POLICIES, NUM_ACTIONS)
        table = table.permute(2, 0, 1, 3)  # (32, steps, 5, 2)
        tables.append(table if time_aware else table[:, 0])
    return torch.stack(tables).contiguous()


def climb(
    game: str, initial: torch.Tensor, steps: int, lr: float, time_aware: bool
) -> torch.Tensor:
    """Adam at rate ``lr`` on the exact expected return of every leader's table, all seeds as
    one batch (Adam is elementwise, so they do not interact); returns the final logits."""
    logits = initial.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([logits], lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = -expected_follower_return(logits, game, time_aware).sum()
        loss.backward()
        optimizer.step()
    return logits.detach()


def best_response_value(game: str, time_aware: bool) -> torch.Tensor:
    """``(32,)``: the follower's best value against each leader, among deterministic
    stationary tables or (time-aware) over all policies (backward induction)."""
    if not time_aware:
        return deterministic_values(game).max(-1).values
    leaders = torch.nn.functional.one_hot(memory_one_policies(), NUM_ACTIONS).double()
    return time_aware_best_response(payoff_table(game), leaders, HORIZON)[0]


def greedy_value(game: str, logits: torch.Tensor, time_aware: bool) -> torch.Tensor:
    """``(seeds, 32)``: the follower's return when it plays its greedy table."""
    returns = deterministic_returns(
        payoff_table(game),
        memory_one_policies(),
        logits.argmax(-1),
        HORIZON,
        time_indexed=time_aware,
    )
    return returns[..., FOLLOWER]


def summarise(
    game: str, seeds: int, step_counts: list[int], lr: float, time_aware: bool
) -> dict[str, object]:
    best = best_response_value(game, time_aware)
    row: dict[str, object] = {"game": game}
    if not time_aware:
        trapped = traps(deterministic_values(game))
        row.update(leaders_with_traps=int(trapped.any(-1).sum()), traps=int(trapped.sum()))
    logits, done = default_initial_logits(seeds, time_aware), 0
    for steps in sorted(step_counts):
        logits, done = climb(game, logits, steps - done, lr, time_aware), steps
        regret = best - greedy_value(game, logits, time_aware)  # (seeds, 32)
        row[f"regret_mean@{steps}"] = float(regret.mean())
        row[f"regret_max@{steps}"] = float(regret.max())
        row[f"leaders_with_regret@{steps}"] = float((regret > 1e-9).double().sum(-1).mean())
        if not time_aware:  # a stochastic stationary table beating every deterministic one
            expected = expected_follower_return(logits, game, time_aware=False)
            beats = (expected > best + 1e-6).double().sum(-1).mean()
            row[f"stochastic_beats_deterministic@{steps}"] = float(beats)
            # Where the greedy table falls short: is the climbed policy still mixed (some
            # state's larger probability below 0.9), i.e. stuck at an interior point?
            mixed = (torch.softmax(logits, -1).amax(-1) < 0.9).any(-1)  # (seeds, 32)
            short = regret > 1e-9
            row[f"mixed_where_short@{steps}"] = f"{int((mixed & short).sum())}/{int(short.sum())}"
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="initialisations per game")
    parser.add_argument("--steps", type=int, nargs="+", default=[500, 20000])
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--games", nargs="+", default=list(CANONICAL_GAME_NAMES))
    parser.add_argument(
        "--time-aware", action="store_true", help="the follower's input includes the step"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    for game in args.games:
        row = summarise(game, args.seeds, args.steps, args.lr, args.time_aware)
        cells = (f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())
        print(" ".join(cells), flush=True)


if __name__ == "__main__":
    main()
