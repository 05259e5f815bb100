"""Paper 003, Appendix B (Fig. 3): a policy-gradient leader against a tabular Q-learning
follower that is reset between leader updates or learns continuously (see :mod:`.algorithm`)."""
