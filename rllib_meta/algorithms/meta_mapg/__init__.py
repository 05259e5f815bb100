"""Meta-MAPG and its baselines (Kim et al., paper 001 / ICML appendix 000).

The engine is plain torch and functional (parameters passed as dicts), so the inner loop can
be replayed with ``create_graph=True``:

- ``networks.py``: the LSTM policy and value networks (paper App. C.1) and tabular peers;
- ``chain.py``: the Markov chain of joint policies: its unrolling through both agents' inner
  updates (Eq. 4) and its sampling with the batched matrix-game core;
- ``objectives.py``: the inner-loop DiCE objectives and the outer Meta-MAPG surrogate (Eq. 6).
"""
