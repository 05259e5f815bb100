"""Contextual-policy Stackelberg learning (paper 003) as an RLlib Algorithm."""
