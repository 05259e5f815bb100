"""What every evaluation of trained checkpoints shares (``rllib evaluate``).

* :mod:`~rllib_meta.evaluation.checkpoints`: finding checkpoints in trial and experiment
  directories, reading their class and config, picking the best by a validation metric, and
  :func:`~rllib_meta.evaluation.checkpoints.output_directory` (where results are written);
* :mod:`~rllib_meta.evaluation.episodes`: the generic evaluation, whole episodes of any
  algorithm without a protocol of its own;
* :mod:`~rllib_meta.evaluation.options`: which ``rllib evaluate`` options an evaluation reads
  (an algorithm's own declares them in ``evaluate_options``), checked before Ray starts;
* :mod:`~rllib_meta.evaluation.statistics`: 95% confidence intervals.

An algorithm's own protocol lives in its folder and is reached through its Algorithm's
``evaluate_checkpoints`` classmethod: ``algorithms/meta_mapg/meta_test.py`` (meta-testing),
``algorithms/meta_value/learning_dynamics.py`` (paper 004's Figs. 2 and 3),
``algorithms/stackelberg/verification.py`` (exact equilibrium checks). Nothing here imports
:mod:`rllib_meta.algorithms` (``tests/test_layering.py`` checks this).
"""

from rllib_meta.evaluation.checkpoints import find_checkpoint, load_checkpoint_info
from rllib_meta.evaluation.episodes import EpisodeReport, evaluate_checkpoint

__all__ = ["EpisodeReport", "evaluate_checkpoint", "find_checkpoint", "load_checkpoint_info"]
