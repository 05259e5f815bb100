"""User-facing errors: each names the bad value and the allowed ones."""

import difflib
from collections.abc import Iterable


class ConfigError(ValueError):
    """Bad user input (a YAML file, a config key, a name). The CLI exits with code 2."""


def unknown_choice(
    kind: str,
    value: object,
    choices: Iterable[str],
    where: str = "",
    allowed: str = "",
    suggest: Iterable[str] = (),
) -> ConfigError:
    """Error for ``value`` not among ``choices``, with a did-you-mean when one is close.

    ``allowed`` replaces the list of choices in the message where that list is too long;
    ``suggest`` names choices to propose first (the new name of an alias, which need not be
    spelled alike).
    """
    choices = sorted(set(choices))
    close = [c for c in suggest if c in choices]
    close += [c for c in difflib.get_close_matches(str(value), choices, n=3, cutoff=0.6)]
    close = list(dict.fromkeys(close))[:3]
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    prefix = f"{where}: " if where else ""
    allowed = allowed or ", ".join(choices)
    return ConfigError(f"{prefix}unknown {kind} {value!r}.{hint} Allowed: {allowed}.")
