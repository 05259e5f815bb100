"""Algorithm names and their registration with Tune."""

import pytest
from ray.rllib.algorithms.ppo import PPO
from ray.tune.registry import get_trainable_cls

import rllib_meta.registry as registry
from rllib_meta.errors import ConfigError


def test_rllib_algorithms_are_listed_and_resolved():
    assert "PPO" in registry.algorithm_names()
    assert registry.get_algorithm_class("PPO") is PPO
    assert registry.get_algorithm_class("ray.rllib.algorithms.ppo:PPO") is PPO


def test_unknown_or_non_algorithm_names_are_refused():
    with pytest.raises(ConfigError, match=r"unknown algorithm 'PPOO'.*Did you mean 'PPO'"):
        registry.get_algorithm_class("PPOO")
    with pytest.raises(ConfigError, match="not an RLlib Algorithm class"):
        registry.get_algorithm_class("rllib_meta.multi_agent:module_per_agent")


def test_rows_of_the_algorithm_table_are_registered_with_tune(monkeypatch):
    monkeypatch.setitem(registry.ALGORITHMS, "TableRowPPO", "ray.rllib.algorithms.ppo:PPO")
    registry.register_all()
    assert get_trainable_cls("TableRowPPO") is PPO
    assert registry.get_algorithm_class("TableRowPPO") is PPO
    assert "TableRowPPO" in registry.algorithm_names()
