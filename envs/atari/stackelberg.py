"""Exact Stackelberg optimum of the Atari bilateral trade from per-bullet values (paper 003).

Section 4 of paper 003.

The economics of one bullet: kept and fired by the seller it earns the seller ``v_seller`` (its
mean kill reward per fired bullet: 0.1 x its hit rate); sold at price ``p`` it earns the seller
``p`` and the buyer ``v_buyer - p`` (1.0 x the buyer's hit rate, minus the price). The gains
from trade are ``v_buyer - v_seller``. Prices are the grid :data:`PRICES`. Policies:

* the seller's: the price it offers for every bullet (an index into :data:`PRICES`), or keep
  them all (``None``);
* the buyer's: accept or reject at each of the 5 prices (a tuple of 5 booleans).

Best responses (:func:`buyer_accepts`, :func:`seller_offer`). The buyer accepts a price iff it
gains from the bullet, ``v_buyer - p > 0``; the seller offers the highest price the buyer
accepts iff that beats keeping the bullet, ``p - v_seller > 0``, and otherwise keeps it.

Tie rules (gains within :data:`TIE_TOLERANCE` of 0 are ties), written down because the paper
only says "just under" / "just above":

* a follower indifferent between trading and not does not trade (``ties="pessimistic"``, the
  default: the paper's follower "still generates small positive reward"), or trades
  (``ties="optimistic"``: the strong Stackelberg equilibrium);
* a leader indifferent between its best trade and no trade trades (the follower gains too, or is
  indifferent, so trading is never worse for anyone);
* among buyer policies with the same outcome, the buyer leader's optimum is reported as the
  threshold policy: accept every price up to the trade price, reject every higher one (any
  policy that accepts the trade price and rejects every higher price is as good).

The optimum for each leader role (:func:`optimal_trade`):

* seller leads: offer the highest grid price the buyer still gains from, if that beats keeping;
* buyer leads: accept up to the lowest grid price the seller still sells at, if the buyer still
  gains from it; otherwise reject every price (and the seller keeps its bullets).

:func:`trade_outcome` gives the per-bullet split that any pair of policies realises, to report
a learned pair next to the optimum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

PRICES = (0.0, 0.25, 0.5, 0.75, 1.0)
LEADERS = ("seller", "buyer")
TIES = ("pessimistic", "optimistic")
TIE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class TradeOutcome:
    """What one pair of trade policies realises per bullet.

    Attributes:
        seller_offer: the seller's policy: index into :data:`PRICES` of its offer, ``None``: keep.
        buyer_accepts: the buyer's policy: accept (``True``) or reject at each price.
        price: the price of every trade, ``None`` when no bullet changes hands.
        seller_value: the seller's reward per bullet (the price, or ``v_seller`` when it keeps).
        buyer_value: the buyer's reward per bullet (``v_buyer - price``, or 0).
        seller_gain / buyer_gain: their shares of the gains from trade (over no trade).
    """

    seller_offer: int | None
    buyer_accepts: tuple[bool, ...]
    price: float | None
    seller_value: float
    buyer_value: float
    seller_gain: float
    buyer_gain: float

    @property
    def traded(self) -> bool:
        return self.price is not None


def buyer_accepts(price: float, v_buyer: float, ties: str = "pessimistic") -> bool:
    """The buyer's best response to an offer at ``price``: does it gain from the bullet?"""
    return _gains(v_buyer - price, _check_ties(ties))


def seller_offer(accepts: Sequence[bool], v_seller: float, ties: str = "pessimistic") -> int | None:
    """The seller's best response to the buyer's acceptance policy: the index of the highest
    accepted price if selling at it beats keeping the bullet, else ``None`` (keep)."""
    ties = _check_ties(ties)
    accepted = [i for i, accept in enumerate(_check_accepts(accepts)) if accept]
    if accepted and _gains(PRICES[accepted[-1]] - _finite(v_seller, "v_seller"), ties):
        return accepted[-1]
    return None


def trade_outcome(
    offer: int | None, accepts: Sequence[bool], v_seller: float, v_buyer: float
) -> TradeOutcome:
    """The per-bullet split realised by the seller's ``offer`` (``None``: keep) and the buyer's
    ``accepts``: the bullet is sold iff the buyer accepts the offered price."""
    accepts = _check_accepts(accepts)
    v_seller, v_buyer = _finite(v_seller, "v_seller"), _finite(v_buyer, "v_buyer")
    if offer is not None and not (isinstance(offer, int) and 0 <= offer < len(PRICES)):
        raise ValueError(f"offer must be None or a price index 0-{len(PRICES) - 1}; got {offer!r}")
    if offer is None or not accepts[offer]:
        return TradeOutcome(offer, accepts, None, v_seller, 0.0, 0.0, 0.0)
    price = PRICES[offer]
    return TradeOutcome(
        offer, accepts, price, price, v_buyer - price, price - v_seller, v_buyer - price
    )


def optimal_trade(
    leader: str, v_seller: float, v_buyer: float, ties: str = "pessimistic"
) -> TradeOutcome:
    """The leader's optimal trade policy, the follower's best response and their split."""
    if leader not in LEADERS:
        raise ValueError(f"leader must be one of {list(LEADERS)}; got {leader!r}")
    ties = _check_ties(ties)
    v_seller, v_buyer = _finite(v_seller, "v_seller"), _finite(v_buyer, "v_buyer")
    no_trade = trade_outcome(None, (False,) * len(PRICES), v_seller, v_buyer)
    if leader == "seller":
        accepts = tuple(buyer_accepts(p, v_buyer, ties) for p in PRICES)
        sellable = [i for i, accept in enumerate(accepts) if accept]
        if not sellable or PRICES[sellable[-1]] - v_seller < -TIE_TOLERANCE:
            return trade_outcome(None, accepts, v_seller, v_buyer)
        return trade_outcome(sellable[-1], accepts, v_seller, v_buyer)
    # Buyer leads: the seller sells at the highest accepted price that beats keeping, so the
    # buyer accepts up to the lowest such price and rejects every higher one.
    sold = [i for i, p in enumerate(PRICES) if _gains(p - v_seller, ties)]
    if not sold or v_buyer - PRICES[sold[0]] < -TIE_TOLERANCE:
        return no_trade
    accepts = tuple(i <= sold[0] for i in range(len(PRICES)))
    return trade_outcome(seller_offer(accepts, v_seller, ties), accepts, v_seller, v_buyer)


def _gains(gain: float, ties: str) -> bool:
    """Whether a follower with this gain from trading trades."""
    return gain > TIE_TOLERANCE or (ties == "optimistic" and gain >= -TIE_TOLERANCE)


def _check_ties(ties: str) -> str:
    if ties not in TIES:
        raise ValueError(f"ties must be one of {list(TIES)}; got {ties!r}")
    return ties


def _check_accepts(accepts: Sequence[bool]) -> tuple[bool, ...]:
    accepts = tuple(bool(a) for a in accepts)
    if len(accepts) != len(PRICES):
        raise ValueError(f"accepts needs one entry per price {PRICES}; got {len(accepts)}")
    return accepts


def _finite(value: float, name: str) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number; got {value!r}")
    return value
