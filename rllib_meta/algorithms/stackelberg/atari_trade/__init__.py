"""Contextual Stackelberg learning on the Atari bilateral trade (paper 003 section 4): the
sibling of :mod:`rllib_meta.algorithms.stackelberg` that reuses its phases, leader update and
verification, with phase 0 (the ships learn to shoot) and the per-bullet trade game."""
