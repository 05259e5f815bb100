"""The shared base of rllib-meta's algorithm folders, one concern per file, as the folders
themselves: ``config.py`` (settings declared once, the class wiring, the checks every config
runs), ``algorithm.py`` (sample on every runner, update then sync, report), ``learner.py``
(the functional Learner and its one optimizer step with RLlib's gradient clipping),
``env_runner.py`` (the sampling EnvRunner and its checkpointed state) and ``settings.py``
(the value checks)."""
