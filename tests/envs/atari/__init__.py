"""Tests of the Atari bilateral trade env (envs/atari)."""

import pytest

SKIP_REASON = 'the atari extra is not installed (pip install "rllib-meta[atari]")'


def require_atari_extra() -> None:
    """Skip the calling test module unless ale-py, multi-agent-ale-py and pygame-ce import."""
    for module in ("ale_py", "multi_agent_ale_py", "pygame"):
        pytest.importorskip(module, reason=SKIP_REASON)
