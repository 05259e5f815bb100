"""rllib-meta's own algorithms, one folder each, shaped like RLlib's ``rllib/algorithms/ppo/``.

``ALGORITHMS`` maps each Tune-registered name to ``"module:Class"`` of its ``Algorithm``
subclass. A new algorithm adds a row here; :mod:`rllib_meta.registry` registers
every row with Ray Tune.
"""

_META_MAPG = "rllib_meta.algorithms.meta_mapg.algorithm"
_META_VALUE = "rllib_meta.algorithms.meta_value.algorithm"
_STACKELBERG = "rllib_meta.algorithms.stackelberg.algorithm"
_STACKELBERG_ATARI = "rllib_meta.algorithms.stackelberg.atari_trade.algorithm"
_FOLLOWER_DEMO = "rllib_meta.algorithms.follower_learning_demo.algorithm"
_MRA = "rllib_meta.algorithms.mra.algorithm"

ALGORITHMS: dict[str, str] = {
    "MetaMAPG": f"{_META_MAPG}:MetaMAPG",
    "MetaPG": f"{_META_MAPG}:MetaPG",
    "REINFORCE": f"{_META_MAPG}:REINFORCE",
    "LOLADiCE": f"{_META_MAPG}:LOLADiCE",
    "MeVa": f"{_META_VALUE}:MeVa",
    "COLA": f"{_META_VALUE}:COLA",
    "LOLA": f"{_META_VALUE}:LOLA",
    "HOLA": f"{_META_VALUE}:HOLA",
    "NaiveLearning": f"{_META_VALUE}:NaiveLearning",
    "StackelbergMeta": f"{_STACKELBERG}:StackelbergMeta",
    "StackelbergAtariTrade": f"{_STACKELBERG_ATARI}:StackelbergAtariTrade",
    "FollowerLearningDemo": f"{_FOLLOWER_DEMO}:FollowerLearningDemo",
    "MRA": f"{_MRA}:MRA",
}
