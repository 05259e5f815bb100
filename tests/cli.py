"""Helpers for tests that drive the `rllib` command in-process."""

import json
from pathlib import Path

from rllib_meta.cli import main


def train_file(example: str, storage: Path, iterations: int, config: dict | None = None) -> int:
    """``rllib train file tuned_examples/<example>`` stopped after ``iterations``, with
    ``config`` merged into the file's config; returns the exit code."""
    args = [
        "train",
        "file",
        f"tuned_examples/{example}",
        "--stop",
        json.dumps({"training_iteration": iterations}),
        "--storage-path",
        str(storage),
    ]
    if config is not None:
        args += ["--config", json.dumps(config)]
    return main(args)
