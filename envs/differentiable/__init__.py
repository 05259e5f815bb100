"""Differentiable two-player games (paper 004): batched torch objectives and their
PettingZoo "learning game" envs (state: joint policy; action: a parameter update)."""
