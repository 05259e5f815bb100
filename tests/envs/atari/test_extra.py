"""Without the atari extra (or its ROM) the env names the install command; ``import envs`` and
the registry still work. Runs with or without the extra: the missing parts are simulated."""

import subprocess
import sys

import pytest

import envs
from envs.atari import space_invaders
from envs.atari.space_invaders import ATARI_EXTRA_HINT, AtariUnavailableError
from envs.errors import MissingExtraError
from rllib_meta.cli import EXIT_BAD_INPUT, main

HIDDEN = (
    "pettingzoo.atari",
    "pettingzoo.atari.base_atari_env",
    "pettingzoo.atari.space_invaders_v2",
    "multi_agent_ale_py",
)


@pytest.fixture
def no_atari_extra(monkeypatch):
    """Make ``from pettingzoo.atari import ...`` fail as it does without multi-agent-ale-py."""
    for module in HIDDEN:
        monkeypatch.setitem(sys.modules, module, None)


def test_missing_extra_names_the_install_command(no_atari_extra):
    with pytest.raises(AtariUnavailableError, match=r'pip install "rllib-meta\[atari\]"') as error:
        envs.make("atari_trade")
    assert isinstance(error.value, MissingExtraError) and isinstance(error.value, ImportError)
    assert "atari extra" in str(error.value)
    assert error.value.__cause__ is None and error.value.__suppress_context__


def test_missing_ale_py_names_the_install_command(monkeypatch):
    monkeypatch.setattr(space_invaders.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(AtariUnavailableError, match=r"ale-py is not installed\): pip install"):
        envs.make("atari_trade")


def test_missing_rom_names_the_path_and_the_install_command(monkeypatch, tmp_path):
    pytest.importorskip("multi_agent_ale_py", reason="the ROM check follows the extra's import")
    monkeypatch.setattr(space_invaders, "rom_directory", lambda: tmp_path)
    with pytest.raises(
        AtariUnavailableError, match=r"ROM is not at .*space_invaders\.bin"
    ) as error:
        envs.make("atari_trade")
    assert ATARI_EXTRA_HINT in str(error.value)


def test_rllib_command_reports_the_missing_extra_as_bad_input(no_atari_extra, capsys):
    code = main(["train", "--algo", "PPO", "--env", "atari_trade"])
    assert code == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "atari_trade" in err and ATARI_EXTRA_HINT in err and "Traceback" not in err


def test_import_envs_does_not_import_the_emulator():
    code = (
        "import sys, envs, envs.atari; envs.make('ipd'); "
        "assert 'multi_agent_ale_py' not in sys.modules and 'pettingzoo.atari' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
