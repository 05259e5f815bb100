"""Errors the environments raise besides ``ValueError`` (bad config) and ``RuntimeError``."""


class MissingExtraError(ImportError):
    """An env needs an optional extra of rllib-meta (or a file one ships) that is not installed;
    the message names the ``pip install "rllib-meta[...]"`` command. The rllib command reports
    it as a configuration error (exit code 2) before Ray starts."""
