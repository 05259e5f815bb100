"""Particle worlds with varying populations (paper 002, MRA: section 7 and Appendix E.1).

One definition of each task's rules (:mod:`envs.particle.tasks`) on one physics core
(:mod:`envs.particle.core`) feeds the batched core (:mod:`envs.particle.batched`, B games in
numpy array operations) and the PettingZoo parallel env (:mod:`envs.particle.env`, the batched
core at B = 1). :mod:`envs.particle.render` draws frames and writes episodes as GIF / PNG.
"""

from envs.particle.batched import (
    AGENT_FEATURES,
    LANDMARK_FEATURES,
    OBS_KEYS,
    BatchedParticleWorld,
    flatten_observations,
)
from envs.particle.env import ParticleEnv
from envs.particle.tasks import pacman_world, resource_occupation, spread, treasure_collection

__all__ = [
    "AGENT_FEATURES",
    "LANDMARK_FEATURES",
    "OBS_KEYS",
    "BatchedParticleWorld",
    "ParticleEnv",
    "flatten_observations",
    "pacman_world",
    "resource_occupation",
    "spread",
    "treasure_collection",
]
