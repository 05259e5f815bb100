"""Without the mujoco extra: ``import envs`` works and ``halfcheetah_2x3`` names the pip command.

The extra's absence is simulated: ``sys.modules[name] = None`` makes ``import name`` fail."""

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import envs
from envs.mujoco import INSTALL_HINT, MissingExtraError

REPO = Path(__file__).resolve().parents[3]
HINT = re.escape(INSTALL_HINT)
EXTRA = ("mujoco", "gymnasium_robotics")


@pytest.mark.parametrize("missing", EXTRA)
def test_make_names_the_pip_command(monkeypatch, missing):
    monkeypatch.setitem(sys.modules, missing, None)
    for module in ("envs.mujoco.halfcheetah", "envs.mujoco.batched"):
        monkeypatch.delitem(sys.modules, module, raising=False)  # import them afresh
    with pytest.raises(MissingExtraError, match=rf"{missing} is not installed.*{HINT}") as error:
        envs.make("halfcheetah_2x3")
    # A ValueError too: the rllib command reports it as a bad env setting (exit code 2).
    assert isinstance(error.value, ImportError) and isinstance(error.value, ValueError)
    assert error.value.name == missing
    with pytest.raises(MissingExtraError, match=HINT):
        importlib.import_module("envs.mujoco.batched")


def test_import_envs_needs_no_mujoco():
    blocked = "; ".join(f"sys.modules[{name!r}] = None" for name in EXTRA)
    code = (
        f"import sys; {blocked}\n"
        "import envs, envs.mujoco\n"
        "assert 'halfcheetah_2x3' in envs.env_names()\n"
        "envs.make('ipd').close()\n"
        "try:\n"
        "    envs.make('halfcheetah_2x3')\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert INSTALL_HINT in result.stdout


def test_the_rllib_command_reports_it_as_bad_input(monkeypatch):
    from ray.rllib.algorithms.ppo import PPOConfig

    from rllib_meta.config_builder import build_algorithm_config
    from rllib_meta.errors import ConfigError

    monkeypatch.setitem(sys.modules, "mujoco", None)
    monkeypatch.delitem(sys.modules, "envs.mujoco.halfcheetah", raising=False)
    monkeypatch.delitem(sys.modules, "envs.mujoco.batched", raising=False)
    with pytest.raises(ConfigError, match=rf"env 'halfcheetah_2x3'.*{HINT}"):
        build_algorithm_config(PPOConfig(), {"env": "halfcheetah_2x3"})
