"""StackelbergAtariTrade (paper 003 section 4): the per-bullet trade game and its context query,
the follower's best responses and the exact check on hand-set values, the real-env trade rule,
phase 0, bad settings, and a tiny ``rllib train`` + ``rllib evaluate``."""

import json
import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from tests import tiny_configs
from tests.envs.atari import require_atari_extra

require_atari_extra()

from envs.atari.stackelberg import optimal_trade  # noqa: E402
from envs.atari.trade import BUYER, SELLER  # noqa: E402
from rllib_meta.algorithms.stackelberg.atari_trade.algorithm import (  # noqa: E402
    StackelbergAtariTrade,
    per_bullet_values,
    trade_report,
)
from rllib_meta.algorithms.stackelberg.atari_trade.env_runner import (  # noqa: E402
    GAMEPLAY,
    EpisodeTotals,
    TablesTrade,
)
from rllib_meta.algorithms.stackelberg.atari_trade.evaluation import pair_policies  # noqa: E402
from rllib_meta.algorithms.stackelberg.atari_trade.rl_module import (  # noqa: E402
    ShipNetwork,
    ram_bits,
)
from rllib_meta.algorithms.stackelberg.atari_trade.trade_game import (  # noqa: E402
    ROLE_SHAPES,
    context_of,
    leader_policies,
    outcome_table,
    price_table,
)
from rllib_meta.algorithms.stackelberg.env_runner import (  # noqa: E402
    LEADER_TRAINING,
    PRETRAINING,
    VERIFICATION,
)
from rllib_meta.cli import main  # noqa: E402
from tests.cli import train_file  # noqa: E402

pytestmark = pytest.mark.slow

TINY = tiny_configs.STACKELBERG_ATARI_TRADE
VALUES = (0.08, 0.9)  # paper 003: "just under 0.1" and "just under 1.0" per bullet


def _config(**settings):
    config = StackelbergAtariTrade.get_default_config().environment(
        "atari_trade", env_config=tiny_configs.STACKELBERG_ATARI_TRADE_ENV_CONFIG
    )
    return config.update_from_dict({**TINY, **settings})


def _set_leader(tables, answers):
    """Make the leader's greedy answers ``answers`` (one per query)."""
    with torch.no_grad():
        weight = torch.zeros_like(tables.leader.weight)  # (answers, queries)
        for query, answer in enumerate(answers):
            weight[answer, query] = 1.0
        tables.leader.weight.copy_(weight)


# -- the trade game ----------------------------------------------------------------------------


@pytest.mark.parametrize("leader", ["seller", "buyer"])
def test_every_deterministic_leader_has_its_own_context(leader):
    policies = leader_policies(leader)
    shapes = ROLE_SHAPES[leader]
    assert policies.shape == (shapes.contexts, shapes.queries)
    assert torch.equal(context_of(leader, policies), torch.arange(shapes.contexts))


def test_outcomes_on_hand_set_values():
    v_seller, v_buyer = VALUES
    # Seller leads: context = its action; the buyer accepts (1) or rejects.
    table = outcome_table("seller", v_seller, v_buyer)
    assert torch.allclose(table[0, 0], torch.tensor([v_seller, 0.0], dtype=torch.float64))
    assert torch.allclose(table[0, 1], table[0, 0])  # nothing offered: accepting is moot
    assert torch.allclose(table[4, 1], torch.tensor([0.75, v_buyer - 0.75], dtype=torch.float64))
    assert torch.allclose(table[4, 0], torch.tensor([v_seller, 0.0], dtype=torch.float64))
    # Buyer leads, accepting 0 and 0.25 only (context 0b00011 = 3); the seller's best response
    # offers 0.25 (action 2): 0.25 beats keeping (0.08) and offering 0 (0).
    table = outcome_table("buyer", v_seller, v_buyer)
    follower = table[3, :, 1]
    assert torch.allclose(
        follower, torch.tensor([0.08, 0.0, 0.25, 0.08, 0.08, 0.08], dtype=torch.float64)
    )
    assert int(follower.argmax()) == 2
    assert torch.allclose(table[3, 2, 0], torch.tensor(v_buyer - 0.25, dtype=torch.float64))
    prices = price_table("buyer")
    assert prices[3, 2] == 0.25 and math.isnan(prices[3, 3]) and math.isnan(prices[3, 0])


@pytest.mark.parametrize(
    ("leader", "answers", "price"), [("seller", [4], 0.75), ("buyer", [1, 1, 0, 0, 0], 0.25)]
)
def test_the_exact_best_responder_meets_the_optimum(leader, answers, price):
    table = outcome_table(leader, *VALUES)[..., 1]
    best_response = table.argmax(dim=-1)
    report = trade_report(leader, torch.tensor(answers), best_response, VALUES)
    optimum = optimal_trade(leader, *VALUES)
    assert report["follower_regret_max"] == 0.0
    assert report["trade_price"] == report["optimum_price"] == optimum.price == price
    assert report["leader_gap"] == pytest.approx(0.0)
    # A follower that never trades has regret exactly where trading pays it.
    never = torch.zeros_like(best_response) if leader == "seller" else best_response * 0
    regret = table.amax(-1) - table.gather(-1, never[:, None])[:, 0]
    report = trade_report(leader, torch.tensor(answers), never, VALUES)
    assert report["follower_regret_max"] == pytest.approx(float(regret.max()))
    assert math.isnan(report["trade_price"])


def test_per_bullet_values_are_kill_rewards_per_shot():
    totals = EpisodeTotals(kill_rewards=[0.3, 2.0], shots=[6, 4])
    assert per_bullet_values(totals) == pytest.approx((0.05, 0.5))
    assert per_bullet_values(EpisodeTotals(kill_rewards=[0.0, 1.0], shots=[0, 2])) == (0.0, 0.5)


def test_pair_policies_in_the_real_env_form():
    follower = torch.tensor([0, 1, 1, 1, 0, 0])  # buyer follower: accept 0, 0.25, 0.5
    assert pair_policies("seller", torch.tensor([3]), follower) == (3, [1, 1, 1, 0, 0])
    follower = torch.zeros(32, dtype=torch.long)
    follower[3] = 2  # seller follower: offer 0.25 when 0 and 0.25 are accepted
    assert pair_policies("buyer", torch.tensor([1, 1, 0, 0, 0]), follower) == (2, [1, 1, 0, 0, 0])


def _infos(bullets, offer=-1, traded=False, shots=0):
    return {
        SELLER: {"bullets": bullets, "offer": offer, "traded": traded, "shots": shots},
        BUYER: {"offer": offer},
    }


def test_the_real_env_seller_offers_each_bullet_once_and_keeps_a_rejected_one():
    rule = TablesTrade(seller_action=3, buyer_accepts=[1, 1, 0, 0, 0])  # offer 0.5; rejected
    rule.reset()
    assert rule.actions(_infos(bullets=1)) == (3, 0)  # offers its bullet
    rule.observe(_infos(bullets=1, offer=2))
    assert rule.actions(_infos(bullets=1, offer=2)) == (0, 0)  # the pending 0.5: rejected
    rule.observe(_infos(bullets=1))  # not traded: the bullet is the seller's to fire
    assert rule.rejected_held == 1
    assert rule.actions(_infos(bullets=1)) == (0, 0)  # never offered again
    rule.observe(_infos(bullets=2, shots=0))
    assert rule.actions(_infos(bullets=2)) == (3, 0)  # a new bullet is offered
    rule.observe(_infos(bullets=1, offer=2, shots=1))  # the rejected one was fired
    assert rule.rejected_held == 0
    accepting = TablesTrade(seller_action=2, buyer_accepts=[1, 1, 0, 0, 0])
    assert accepting.actions(_infos(bullets=1, offer=1)) == (0, 1)  # accepts 0.25


# -- the algorithm -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("leader", "answers", "context"), [("seller", [4], 4), ("buyer", [1, 1, 0, 0, 0], 3)]
)
def test_the_context_is_the_query_of_the_leaders_trade_policy(
    ray_instance, leader, answers, context
):
    algorithm = _config(
        leader=leader, bullet_values=list(VALUES), gameplay_iterations=0
    ).build_algo()
    try:
        runner = algorithm.env_runner
        _set_leader(runner.module, answers)
        batch = runner.sample(phase=VERIFICATION, bullet_values=VALUES)
        assert (batch["answers"] == np.array(answers)).all()
        assert (batch["contexts"] == context).all()
        batch = runner.sample(phase=LEADER_TRAINING, bullet_values=VALUES)
        assert batch["answers"].shape == (TINY["leader_episodes_per_iteration"], len(answers))
        # The frozen follower answers greedily: its response is its table's argmax.
        greedy = runner.module.follower_greedy_table()
        assert (batch["responses"] == greedy[batch["contexts"]].numpy()).all()
        # The rewards are the outcome table's at (context, response).
        table = outcome_table(leader, *VALUES).float()
        expected = table[torch.from_numpy(batch["contexts"]), torch.from_numpy(batch["responses"])]
        assert torch.allclose(torch.from_numpy(batch["payoff_returns"]), expected)
        batch = runner.sample(phase=PRETRAINING, bullet_values=VALUES)
        assert batch["contexts"].max() < ROLE_SHAPES[leader].contexts
    finally:
        algorithm.stop()


def test_phase_0_learns_the_ships_only_and_fires_only_with_bullets(ray_instance):
    algorithm = _config(gameplay_iterations=2).build_algo()
    try:
        learner = algorithm.learner_group._learner
        before = {k: v.clone() for k, v in learner.tables.state_dict().items()}
        batch = algorithm.env_runner.sample(phase=GAMEPLAY)
        chosen = np.take_along_axis(batch["masks"], batch["actions"][..., None], axis=-1)
        assert (chosen == 1).all()  # no FIRE without a free bullet
        assert batch["observations"].shape[0] == batch["episode_lengths"].sum()
        result = algorithm.train()["stackelberg"]
        after = learner.tables.state_dict()
        assert result["phase"] == 0.0 and algorithm.bullet_values is None
        for name, value in before.items():
            moved = not torch.equal(value, after[name])
            assert moved == name.startswith("ships."), name
        algorithm.train()
        algorithm.train()  # the first trade iteration measures the values
        assert algorithm.bullet_values is not None
        shots = algorithm.value_measurement["shots"]
        kills = algorithm.value_measurement["kill_rewards"]
        assert algorithm.bullet_values == per_bullet_values(
            EpisodeTotals(kill_rewards=kills, shots=shots)
        )
    finally:
        algorithm.stop()


@pytest.mark.parametrize(("leader", "price"), [("seller", 0.75), ("buyer", 0.25)])
def test_a_short_run_on_hand_set_values_reaches_the_optimum(ray_instance, leader, price):
    settings = {
        "leader": leader,
        "bullet_values": list(VALUES),
        "gameplay_iterations": 0,
        "pretraining_iterations": 400,
        "follower_episodes_per_iteration": 10,
        "leader_iterations": 60,
        "leader_episodes_per_iteration": 100,
        "ppo_epochs": 30,
        "verification_iterations": 5,
        "seed": 0,
    }
    algorithm = _config(**settings).build_algo()
    try:
        for _ in range(465):
            result = algorithm.train()["stackelberg"]
    finally:
        algorithm.stop()
    assert result["trade_price"] == result["optimum_price"] == price
    assert result["leader_gap"] == pytest.approx(0.0, abs=1e-6)
    assert result["verification_leader_change"] == 0.0


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"leader": "bogus"}, r"leader must be one of \['seller', 'buyer'\], got 'bogus'"),
        ({"follower_oracle": "q_learning"}, r"follower_oracle must be 'contextual'.*'q_learning'"),
        ({"leader_learner": "dqn"}, r"leader_learner must be one of \['pg', 'ppo'\].*'dqn'"),
        ({"bullet_values": [0.1]}, r"bullet_values must be None or \[v_seller, v_buyer\]"),
        ({"gameplay_hiddens": []}, r"gameplay_hiddens must be a non-empty list"),
        ({"ties": "strong"}, r"ties must be one of \['pessimistic', 'optimistic'\]"),
        ({"gameplay_offer_probability": 2.0}, r"gameplay_offer_probability must be a number"),
        (
            {"gameplay_ram_encoding": "hex"},
            r"gameplay_ram_encoding must be one of \['bytes', 'bits'\], got 'hex'",
        ),
    ],
)
def test_bad_settings_are_refused_by_name(settings, message):
    with pytest.raises(ValueError, match=message):
        _config(**settings).validate()


def test_bit_encoding_needs_ram_observations():
    config = _config(gameplay_ram_encoding="bits").environment(env_config={"obs_type": "frames"})
    with pytest.raises(ValueError, match=r"needs env_config obs_type 'ram', got obs_type='frames'"):
        config.validate()


def test_the_ram_bits_are_each_bytes_bits_then_the_trade_features():
    ram = np.zeros(128, np.uint8)
    ram[0], ram[1], ram[127] = 5, 128, 255
    trade = np.array([0.2, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.5], np.float32)
    observation = torch.from_numpy(np.concatenate([ram / np.float32(255), trade])[None])
    bits = ram_bits(observation.float())
    assert bits.shape == (1, 1024 + 8)
    assert bits[0, :16].tolist() == [0, 0, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    assert bits[0, 16 : 127 * 8].sum() == 0 and bits[0, 127 * 8 : 1024].tolist() == [1] * 8
    assert torch.equal(bits[0, 1024:], observation[0, 128:])
    space = gym.spaces.Box(0.0, 1.0, (136,), np.float32)
    ship = ShipNetwork(space, [8], "bits")
    assert ship.torso[0].in_features == 1032
    logits, value = ship(observation.float())
    assert logits.shape == (1, 6) and value.shape == (1,)


def test_phase_0_with_the_ram_bits(ray_instance):
    algorithm = _config(gameplay_ram_encoding="bits").build_algo()
    try:
        result = algorithm.train()["stackelberg"]
        assert result["phase"] == 0.0 and np.isfinite(result["buyer_policy_loss"])
        ships = algorithm.learner_group._learner.tables.ships
        assert ships["buyer"].torso[0].in_features == 1024 + 8
    finally:
        algorithm.stop()


def test_only_the_trade_env_is_supported():
    config = _config().environment("matrix_game")
    with pytest.raises(
        ValueError, match=r"env must be one of \['atari_trade'\], got 'matrix_game'"
    ):
        config.validate()


# -- the command line --------------------------------------------------------------------------


def test_rllib_train_and_evaluate_print_the_equilibrium_table(ray_instance, tmp_path, capsys):
    config = {**TINY, "env_config": tiny_configs.STACKELBERG_ATARI_TRADE_ENV_CONFIG, "seed": 0}
    assert train_file("stackelberg_atari_trade_seller_leads.yaml", tmp_path, 7, config) == 0
    (trial,) = [p for p in tmp_path.glob("*/*") if (p / "result.json").is_file()]
    rows = [json.loads(line) for line in (trial / "result.json").read_text().splitlines()]
    assert [row["stackelberg"]["phase"] for row in rows] == [0, 1, 1, 2, 2, 3, 3]
    trained = (rows[-1]["stackelberg"]["v_seller"], rows[-1]["stackelberg"]["v_buyer"])
    capsys.readouterr()
    assert main(["evaluate", str(trial), "--episodes", "1"]) == 0
    printed = capsys.readouterr().out
    assert "leader: seller" in printed and "optimum" in printed and "real env" in printed
    output = trial / "evaluation"
    (report,) = json.loads((output / "stackelberg_atari_trade.json").read_text())
    assert (output / "stackelberg_atari_trade.png").stat().st_size > 0
    assert report["trained_bullet_values"] == pytest.approx(list(trained))  # checkpointed
    optimum = optimal_trade("seller", *report["bullet_values"])
    assert report["optimum"]["price"] == optimum.price
    assert report["real_env"]["episodes"] == 1
    assert report["leader_policy"].startswith(("keep", "offer"))
    # The exact check on the values the trade phases played on is training's own last report.
    for key in ("leader_return", "follower_return", "follower_regret_max"):
        assert report["learned_trained"][key] == pytest.approx(rows[-1]["stackelberg"][key])


def test_phase_0_reads_frame_observations_with_the_convolutional_ship_heads(ray_instance):
    env_config = {**tiny_configs.STACKELBERG_ATARI_TRADE_ENV_CONFIG, "obs_type": "frames"}
    config = _config(gameplay_iterations=1).environment("atari_trade", env_config=env_config)
    algorithm = config.build_algo()
    try:
        batch = algorithm.env_runner.sample(phase=GAMEPLAY)
        assert batch["observations"].dtype == np.uint8  # kept compact, exact to 1/255
        assert batch["observations"].shape[1:] == (84, 84, 12)
        result = algorithm.train()["stackelberg"]
        assert result["phase"] == 0.0 and np.isfinite(result["seller_policy_loss"])
    finally:
        algorithm.stop()


def _state(algorithm) -> dict[str, np.ndarray]:
    tables = algorithm.learner_group._learner.tables
    return {k: v.detach().numpy().copy() for k, v in tables.state_dict().items()}


def _metrics(algorithm, iterations: int) -> list[dict[str, float]]:
    return [
        {k: float(v) for k, v in algorithm.train()["stackelberg"].items()}
        for _ in range(iterations)
    ]


def test_seeded_runs_repeat_and_checkpoints_continue_bit_identically(ray_instance, tmp_path):
    # Two phase-0 iterations, then the values and the trade phases, across the checkpoint.
    settings = {"gameplay_iterations": 2, "seed": 4}
    first, second = _config(**settings).build_algo(), _config(**settings).build_algo()
    try:
        np.testing.assert_equal(_metrics(first, 1), _metrics(second, 1))  # NaN == NaN here
        np.testing.assert_equal(_state(first), _state(second))
        checkpoint = first.save_to_path(tmp_path / "checkpoint")
        saved = _state(first)
        expected = _metrics(first, 4)
        expected_state = _state(first)
        expected_values = first.bullet_values
    finally:
        first.stop()
        second.stop()
    restored = StackelbergAtariTrade.from_checkpoint(checkpoint)
    try:
        np.testing.assert_equal(_state(restored), saved)
        np.testing.assert_equal(_metrics(restored, 4), expected)  # replays phase 0's 2nd game
        np.testing.assert_equal(_state(restored), expected_state)
        assert restored.bullet_values == expected_values
    finally:
        restored.stop()


def test_two_env_runners_split_the_episodes_and_the_measurement(ray_instance):
    settings = {"num_env_runners": 2, "gameplay_episodes_per_iteration": 2, "value_episodes": 3}
    algorithm = _config(**settings).build_algo()
    try:
        first = algorithm.train()
        assert first["env_runners"]["num_env_steps_sampled_lifetime"] == 2 * 20  # 20-step games
        result = algorithm.train()["stackelberg"]
        assert algorithm.value_measurement["episodes"] == 3  # 2 + 1 over the two runners
        assert result["phase"] == 1.0 and "follower_loss" in result
    finally:
        algorithm.stop()
