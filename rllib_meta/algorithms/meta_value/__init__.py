"""Learning with learning awareness on differentiable games (paper 004): MeVa, COLA, LOLA,
HOLA and naive learning (see :mod:`.algorithm`)."""
