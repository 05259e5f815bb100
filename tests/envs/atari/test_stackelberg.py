"""The exact optimum of the bilateral trade on hand-set per-bullet values (no emulator needed)."""

import itertools

import numpy as np
import pytest

from envs.atari.stackelberg import (
    PRICES,
    buyer_accepts,
    optimal_trade,
    seller_offer,
    trade_outcome,
)

ALL_ACCEPTS = list(itertools.product([False, True], repeat=len(PRICES)))


def test_paper_setting_seller_leads_takes_most_of_the_gains():
    # A good shooter: the buyer makes 0.9 per bullet, the seller 0.08 (0.1 per kill).
    best = optimal_trade("seller", v_seller=0.08, v_buyer=0.9)
    assert best.seller_offer == PRICES.index(0.75) and best.price == 0.75
    assert best.buyer_accepts == (True, True, True, True, False)  # the follower's response
    assert best.seller_gain == pytest.approx(0.67) and best.buyer_gain == pytest.approx(0.15)


def test_paper_setting_buyer_leads_takes_most_of_the_gains():
    best = optimal_trade("buyer", v_seller=0.08, v_buyer=0.9)
    assert best.buyer_accepts == (True, True, False, False, False)
    assert best.seller_offer == PRICES.index(0.25) and best.price == 0.25
    assert best.seller_gain == pytest.approx(0.17) and best.buyer_gain == pytest.approx(0.65)
    assert best.seller_value == 0.25 and best.buyer_value == pytest.approx(0.65)


@pytest.mark.parametrize(
    ("leader", "v_seller", "v_buyer", "ties", "price"),
    [
        # A grid price equal to the follower's value: pessimistic followers do not trade on it.
        ("seller", 0.05, 0.75, "pessimistic", 0.5),
        ("seller", 0.05, 0.75, "optimistic", 0.75),
        ("buyer", 0.25, 0.9, "pessimistic", 0.5),
        ("buyer", 0.25, 0.9, "optimistic", 0.25),
        ("buyer", 0.0, 0.9, "pessimistic", 0.25),  # a seller with a useless gun wants > 0
        ("buyer", 0.0, 0.9, "optimistic", 0.0),
        # Off the grid: the highest price below v_buyer / the lowest above v_seller.
        ("seller", 0.0, 0.3, "pessimistic", 0.25),
        ("seller", 0.0, 1.7, "pessimistic", 1.0),
        ("buyer", 0.51, 0.99, "pessimistic", 0.75),
        # A leader indifferent between its best trade and keeping trades.
        ("seller", 0.5, 0.6, "pessimistic", 0.5),
        ("buyer", 0.3, 0.5, "pessimistic", 0.5),
    ],
)
def test_tie_rules_and_grid_edges(leader, v_seller, v_buyer, ties, price):
    assert optimal_trade(leader, v_seller, v_buyer, ties).price == price


@pytest.mark.parametrize("leader", ["seller", "buyer"])
@pytest.mark.parametrize(("v_seller", "v_buyer"), [(0.6, 0.55), (0.3, 0.3), (1.2, 2.0), (0, 0)])
def test_no_trade_without_a_grid_price_both_gain_from(leader, v_seller, v_buyer):
    best = optimal_trade(leader, v_seller, v_buyer)
    assert not best.traded and best.price is None and best.seller_offer is None
    assert best.seller_value == v_seller and best.buyer_value == 0.0


def test_best_responses():
    assert [buyer_accepts(p, 0.5) for p in PRICES] == [True, True, False, False, False]
    assert [buyer_accepts(p, 0.5, "optimistic") for p in PRICES] == [True, True, True, False, False]
    assert seller_offer((True, False, True, False, False), 0.1) == PRICES.index(0.5)
    assert seller_offer((True, False, False, False, False), 0.1) is None  # 0 < keeping
    assert seller_offer((False,) * 5, 0.0) is None


def test_trade_outcome_of_any_policy_pair():
    rejected = trade_outcome(PRICES.index(1.0), (True, True, True, True, False), 0.05, 0.9)
    assert not rejected.traded and rejected.seller_value == 0.05 and rejected.buyer_value == 0
    sold = trade_outcome(PRICES.index(0.5), (True,) * 5, 0.05, 0.9)
    assert sold.price == 0.5 and sold.seller_gain == pytest.approx(0.45)
    assert sold.buyer_gain == pytest.approx(0.4)
    assert sold.seller_gain + sold.buyer_gain == pytest.approx(0.9 - 0.05)  # gains from trade


@pytest.mark.parametrize("ties", ["pessimistic", "optimistic"])
def test_optimum_beats_every_leader_policy_against_the_best_response(ties):
    rng = np.random.default_rng(0)
    values = [*rng.uniform(0, 1.2, (200, 2)), *itertools.product(PRICES, repeat=2)]
    for v_seller, v_buyer in values:
        best_seller = optimal_trade("seller", v_seller, v_buyer, ties)
        response = tuple(buyer_accepts(p, v_buyer, ties) for p in PRICES)
        for offer in [None, *range(len(PRICES))]:
            other = trade_outcome(offer, response, v_seller, v_buyer)
            assert best_seller.seller_value >= other.seller_value - 1e-12
        best_buyer = optimal_trade("buyer", v_seller, v_buyer, ties)
        assert best_buyer.seller_offer == seller_offer(best_buyer.buyer_accepts, v_seller, ties)
        for accepts in ALL_ACCEPTS:
            other = trade_outcome(seller_offer(accepts, v_seller, ties), accepts, v_seller, v_buyer)
            assert best_buyer.buyer_value >= other.buyer_value - 1e-12


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match=r"leader must be one of \['seller', 'buyer'\]"):
        optimal_trade("follower", 0.1, 0.9)
    with pytest.raises(ValueError, match="ties must be one of"):
        optimal_trade("seller", 0.1, 0.9, ties="strong")
    with pytest.raises(ValueError, match="v_buyer must be a finite number"):
        optimal_trade("seller", 0.1, float("nan"))
    with pytest.raises(ValueError, match="accepts needs one entry per price"):
        seller_offer((True,), 0.1)
    with pytest.raises(ValueError, match="offer must be None or a price index 0-4"):
        trade_outcome(5, (True,) * 5, 0.1, 0.9)
