"""The trade decisions of the Atari bilateral trade (paper 003 section 4) as a one-shot game per
bullet, played on measured per-bullet values instead of the emulator.

Once both ships' shooting policies are frozen, what one bullet is worth to each player is a
number: ``v_seller`` (the seller's mean kill reward per fired bullet) and ``v_buyer``. Sold at
price ``p`` the bullet pays the seller ``p`` and the buyer ``v_buyer - p``; kept, it pays the
seller ``v_seller`` and the buyer 0 (:func:`envs.atari.stackelberg.trade_outcome`). So the
trade phases of Algorithm 1 play this game, one bullet per episode, and ``rllib evaluate``
checks the result in the real env.

Trade policies in the codes of the env's trade actions:

* the seller's: one action ``a`` in 0-5, 0 keeps the bullet, ``k`` offers it at
  ``PRICES[k - 1]``;
* the buyer's: one accept (1) / reject (0) answer for each of the 5 prices.

The context query (paper 003 section 3; Algorithm 1): the follower's context is the leader's
answers to the queries of its trade policy: the seller leader is asked the action it would
take (one answer, ``context = a``, 6 contexts); the buyer leader is asked accept or reject at
each of the 5 prices (5 answers, ``context = sum_k answer_k 2^k``, 32 contexts). The leader
then plays by its answers, so the context is truthful.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from envs.atari.stackelberg import LEADERS, PRICES, TradeOutcome, trade_outcome

KEEP = 0
NUM_SELLER_ACTIONS = 1 + len(PRICES)
NUM_PRICES = len(PRICES)


@dataclass(frozen=True)
class RoleShapes:
    """The table shapes of one leader role: the leader answers ``queries`` questions with one of
    ``answers`` options each; the follower sees one of ``contexts`` and takes one of
    ``follower_actions``."""

    queries: int
    answers: int
    contexts: int
    follower_actions: int


ROLE_SHAPES = {
    "seller": RoleShapes(1, NUM_SELLER_ACTIONS, NUM_SELLER_ACTIONS, 2),
    "buyer": RoleShapes(NUM_PRICES, 2, 2**NUM_PRICES, NUM_SELLER_ACTIONS),
}


def check_leader(leader: str) -> str:
    if leader not in LEADERS:
        raise ValueError(f"leader must be one of {list(LEADERS)}, got {leader!r}.")
    return leader


def follower_of(leader: str) -> str:
    return "buyer" if check_leader(leader) == "seller" else "seller"


def context_of(leader: str, answers: torch.Tensor) -> torch.Tensor:
    """The follower's context from the leader's answers ``(..., queries)`` long: the seller's
    action itself, or the buyer's 5 accept bits read as a binary number (price k: bit k)."""
    answers = torch.as_tensor(answers)
    if check_leader(leader) == "seller":
        return answers[..., 0]
    return (answers << torch.arange(NUM_PRICES, device=answers.device)).sum(-1)


def leader_policies(leader: str) -> torch.Tensor:
    """Every deterministic trade policy of the leader, ``(contexts, queries)`` long, row ``c``
    the policy whose context is ``c``."""
    contexts = torch.arange(ROLE_SHAPES[check_leader(leader)].contexts)
    if leader == "seller":
        return contexts.unsqueeze(-1)
    return (contexts.unsqueeze(-1) >> torch.arange(NUM_PRICES)) & 1


def pair_outcome(
    leader: str, answers: torch.Tensor, response: int, v_seller: float, v_buyer: float
) -> TradeOutcome:
    """The per-bullet outcome of one deterministic leader (``answers``, ``(queries,)``) and the
    follower's ``response`` to it (the buyer's accept bit for the offered price, or the seller's
    action)."""
    answers = [int(a) for a in answers]
    if check_leader(leader) == "seller":
        offer = answers[0]
        accepts = [False] * NUM_PRICES
        if offer != KEEP:
            accepts[offer - 1] = bool(response)
    else:
        offer, accepts = int(response), [bool(a) for a in answers]
    return trade_outcome(None if offer == KEEP else offer - 1, accepts, v_seller, v_buyer)


def role_values(leader: str, outcome: TradeOutcome) -> tuple[float, float]:
    """``(leader's, follower's)`` per-bullet values of an outcome."""
    values = (outcome.seller_value, outcome.buyer_value)
    return values if check_leader(leader) == "seller" else values[::-1]


def outcome_table(leader: str, v_seller: float, v_buyer: float) -> torch.Tensor:
    """``(contexts, follower_actions, 2)``: the ``(leader, follower)`` per-bullet values of every
    follower action against every deterministic leader. Its ``[..., 1]`` is the exact
    best-response table; a batch's rewards are its rows at ``(context, response)``."""
    shapes = ROLE_SHAPES[check_leader(leader)]
    table = torch.zeros(shapes.contexts, shapes.follower_actions, 2, dtype=torch.float64)
    for context, answers in enumerate(leader_policies(leader)):
        for action in range(shapes.follower_actions):
            outcome = pair_outcome(leader, answers, action, v_seller, v_buyer)
            table[context, action] = torch.tensor(role_values(leader, outcome))
    return table


def price_table(leader: str) -> torch.Tensor:
    """``(contexts, follower_actions)``: the price of the trade each pair makes, NaN where no
    bullet changes hands."""
    shapes = ROLE_SHAPES[check_leader(leader)]
    table = torch.full((shapes.contexts, shapes.follower_actions), float("nan"))
    for context, answers in enumerate(leader_policies(leader)):
        for action in range(shapes.follower_actions):
            price = pair_outcome(leader, answers, action, 0.0, 0.0).price
            if price is not None:
                table[context, action] = price
    return table


def follower_decides(leader: str, contexts: torch.Tensor) -> torch.Tensor:
    """Whether the follower's action matters: a buyer follower has nothing to answer when the
    seller keeps its bullet; a seller follower always chooses."""
    if check_leader(leader) == "seller":
        return contexts != KEEP
    return torch.ones_like(contexts, dtype=torch.bool)


def describe_policy(role: str, answers: list[int]) -> str:
    """A trade policy in words: the seller's action, or the buyer's accepted prices."""
    if role == "seller":
        (action,) = answers
        return "keep" if action == KEEP else f"offer {PRICES[action - 1]:g}"
    accepted = [f"{PRICES[k]:g}" for k, a in enumerate(answers) if a]
    return "accept " + ("/".join(accepted) if accepted else "none")


def describe_response(leader: str, answers: list[int], response: int) -> str:
    """The follower's greedy response to a leader's answers, in words."""
    if check_leader(leader) == "seller":
        if answers[0] == KEEP:
            return "nothing offered"
        return "accept" if response else "reject"
    return describe_policy("seller", [response])
