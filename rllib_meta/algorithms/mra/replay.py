"""One replay buffer per training MG (paper 002, Algorithm 4: "Initialize replay buffer D_m for
each Markov Game m"): a ring of transitions, oldest overwritten.

Arrays are allocated at full capacity on the first ``add`` with ``np.zeros``, whose pages the
OS only provides when written, so a 1e6-transition buffer costs the memory of what it holds.
Checkpoints hold the filled part only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch


class ReplayBuffer:
    """Transitions of one MG: every field an array with the transition on axis 0."""

    def __init__(self, capacity: int) -> None:
        self.capacity = int(capacity)
        self.fields: dict[str, np.ndarray] = {}
        self.size = 0
        self.next = 0

    def __len__(self) -> int:
        return self.size

    def add(self, batch: Mapping[str, np.ndarray]) -> None:
        """Append ``batch`` (every field with the same first axis), overwriting the oldest."""
        count = len(next(iter(batch.values())))
        if not self.fields:
            self.fields = {
                key: np.zeros((self.capacity, *np.shape(value)[1:]), np.asarray(value).dtype)
                for key, value in batch.items()
            }
        if set(batch) != set(self.fields):
            raise ValueError(
                f"fields {sorted(batch)} differ from the buffer's {sorted(self.fields)}"
            )
        rows = (self.next + np.arange(count)) % self.capacity
        for key, value in batch.items():
            # A batch larger than the buffer keeps its last `capacity` rows.
            self.fields[key][rows[-self.capacity :]] = np.asarray(value)[-self.capacity :]
        self.next = int((self.next + count) % self.capacity)
        self.size = min(self.size + count, self.capacity)

    def sample(self, count: int, generator: torch.Generator) -> dict[str, np.ndarray]:
        """``count`` transitions drawn uniformly with replacement."""
        rows = torch.randint(self.size, (count,), generator=generator).numpy()
        return {key: value[rows] for key, value in self.fields.items()}

    def get_state(self) -> dict[str, Any]:
        return {
            "capacity": self.capacity,
            "size": self.size,
            "next": self.next,
            "fields": {key: value[: self.size].copy() for key, value in self.fields.items()},
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        self.capacity, self.size, self.next = (
            int(state["capacity"]),
            int(state["size"]),
            int(state["next"]),
        )
        self.fields = {}
        for key, filled in state["fields"].items():
            filled = np.asarray(filled)
            array = np.zeros((self.capacity, *filled.shape[1:]), filled.dtype)
            array[: self.size] = filled
            self.fields[key] = array
