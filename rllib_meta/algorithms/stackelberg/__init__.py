"""Contextual-policy Stackelberg learning (paper 003) as an RLlib Algorithm; the exact checks of
``verification.py`` run during training and as its evaluation for ``rllib evaluate``."""
