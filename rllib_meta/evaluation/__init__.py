"""Evaluation of trained checkpoints: ``rllib evaluate`` and, per algorithm, meta-testing."""

from rllib_meta.evaluation.checkpoints import find_checkpoint, load_checkpoint_info
from rllib_meta.evaluation.episodes import EpisodeReport, evaluate_checkpoint

__all__ = ["EpisodeReport", "evaluate_checkpoint", "find_checkpoint", "load_checkpoint_info"]
