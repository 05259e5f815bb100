"""``StackelbergAtariTradeConfig``: contextual Stackelberg learning on the Atari bilateral trade
(paper 003 section 4, Fig. 2), with either player as the leader.

It inherits the matrix games' settings of the trade phases (``follower_learner``,
``leader_learner``, ``lr`` (the leader's), ``follower_lr``, the three phase lengths, episodes
per iteration: one episode is one bullet's trade, PPO's clip and epochs) and adds the leader
role, phase 0 (both ships learn to shoot: a PPO-style update of the ship heads) and the
measurement of the per-bullet values. The paper gives no hyperparameters for this domain; the
defaults are this implementation's (``tuned_examples/stackelberg_atari_trade_*.yaml``).
"""

from __future__ import annotations

from typing import Any

from envs.atari.stackelberg import LEADERS, TIES
from rllib_meta.algorithms.base.config import Components
from rllib_meta.algorithms.base.settings import (
    Setting,
    check_int,
    check_number,
    choice,
    fraction,
    integer,
    number,
    positive,
)
from rllib_meta.algorithms.stackelberg.atari_trade.rl_module import RAM_ENCODINGS
from rllib_meta.algorithms.stackelberg.config import StackelbergConfig


def _bullet_values(name: str, value: Any) -> None:
    """None (measure them after phase 0) or ``[v_seller, v_buyer]``, two real numbers."""
    if value is None:
        return
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError(f"{name} must be None or [v_seller, v_buyer], got {value!r}.")
    for item in value:
        check_number(name, item, -1e6, 1e6)


def _hiddens(name: str, value: Any) -> None:
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(f"{name} must be a non-empty list of layer sizes, got {value!r}.")
    for size in value:
        check_int(name, size, 1)


class StackelbergAtariTradeConfig(StackelbergConfig):
    """Configuration of
    :class:`~rllib_meta.algorithms.stackelberg.atari_trade.algorithm.StackelbergAtariTrade`."""

    COMPONENTS = Components(
        "StackelbergAtariTrade",
        "StackelbergAtariTradeLearner",
        "StackelbergAtariTradeModule",
        "StackelbergAtariTradeEnvRunner",
    )
    SUPPORTED_ENVS = ("atari_trade",)
    SINGLE_LEARNER_REASON = "the trade tables and two small ship networks train on one Learner"
    RLLIB_SETTINGS = {
        "env_config": Setting({}),  # atari_trade's own defaults (RAM observations)
    }
    MODEL_SETTINGS = ("leader", "gameplay_hiddens", "gameplay_ram_encoding")
    SETTINGS = {
        "leader": Setting("seller", choice(*LEADERS), "who commits to a trade policy first"),
        # Phase 0: both ships learn to shoot, the trade rule fixed (gameplay_offer_probability).
        "gameplay_iterations": Setting(100, integer(0), "phase 0's length"),
        "gameplay_episodes_per_iteration": Setting(4, integer(1), "real env episodes per update"),
        "gameplay_lr": Setting(3e-4, positive(), "the ship networks' Adam step size"),
        "gameplay_gamma": Setting(0.99, fraction(), "the ships' discount"),
        "gameplay_lambda": Setting(0.95, fraction(), "GAE's lambda for the ships"),
        "gameplay_epochs": Setting(4, integer(1), "PPO passes over a gameplay batch"),
        "gameplay_minibatch_size": Setting(512, integer(1), "steps per gameplay minibatch"),
        "gameplay_clip": Setting(0.2, positive(), "PPO's ratio clip for the ships"),
        "gameplay_entropy_coeff": Setting(0.01, number(0.0), "ship entropy bonus"),
        "gameplay_value_coeff": Setting(0.5, number(0.0), "ship value loss weight"),
        "gameplay_hiddens": Setting([64, 64], _hiddens, "the ship MLP's layer sizes"),
        # How the ship MLP reads RAM observations: the env's bytes / 255, or each byte's bits.
        "gameplay_ram_encoding": Setting("bytes", choice(*RAM_ENCODINGS), "RAM as bytes or bits"),
        # Phase 0's fixed trade head: the seller offers a free bullet at price 0 with this
        # probability each step and the buyer accepts every offer, so both ships get bullets
        # to learn with and no price enters their rewards.
        "gameplay_offer_probability": Setting(0.5, fraction(), "phase 0's free hand-overs"),
        # The per-bullet values the trade phases play on: measured from the frozen ships
        # (value_episodes real episodes) unless given.
        "value_episodes": Setting(8, integer(1), "real episodes measuring the values"),
        "bullet_values": Setting(None, _bullet_values, "[v_seller, v_buyer] instead"),
        "ties": Setting("pessimistic", choice(*TIES), "the optimum's tie rule"),
    }

    def validate(self) -> None:
        # Before the parent's checks, whose q_learning rules do not apply here.
        if self.follower_oracle != "contextual":
            raise ValueError(
                "follower_oracle must be 'contextual' (StackelbergAtariTrade pre-trains a "
                f"contextual follower), got {self.follower_oracle!r}."
            )
        if self.leader_learner not in ("pg", "ppo"):
            raise ValueError(
                "leader_learner must be one of ['pg', 'ppo'] for StackelbergAtariTrade, got "
                f"{self.leader_learner!r}."
            )
        super().validate()  # the setting's type first (a wrong type is named as such)
        if self.follower_observes_time:
            raise ValueError(
                "follower_observes_time=True: the trade follower answers one offer per bullet "
                "(no time steps to tell apart); leave it False for StackelbergAtariTrade."
            )
        obs_type = (self.env_config or {}).get("obs_type", "ram")
        if self.gameplay_ram_encoding == "bits" and obs_type != "ram":
            raise ValueError(
                "gameplay_ram_encoding='bits' reads RAM observations: it needs env_config "
                f"obs_type 'ram', got obs_type={obs_type!r}."
            )
        if self.num_env_runners > 0 and self.gameplay_episodes_per_iteration < self.num_env_runners:
            raise ValueError(
                f"gameplay_episodes_per_iteration={self.gameplay_episodes_per_iteration} is "
                f"fewer than num_env_runners={self.num_env_runners}: every EnvRunner needs one."
            )
