"""Errors the environments raise besides ``ValueError`` (bad config) and ``RuntimeError``."""


class MissingExtraError(ImportError, ValueError):
    """An env needs an optional extra of rllib-meta (or a file one ships) that is not installed;
    the message names the ``pip install "rllib-meta[...]"`` command. An ``ImportError``, and a
    ``ValueError`` so that the rllib command reports it like any other bad env setting (exit
    code 2) before Ray starts."""
