"""Finding the tuned-example YAML files shipped with rllib-meta."""

import sys
from pathlib import Path

from rllib_meta.errors import ConfigError, unknown_choice

_REPO_ROOT = Path(__file__).resolve().parent.parent


def tuned_example_dirs() -> list[Path]:
    """Where tuned examples live: ./tuned_examples, the source checkout's, the installed copy."""
    candidates = [
        Path.cwd() / "tuned_examples",
        _REPO_ROOT / "tuned_examples",
        Path(sys.prefix) / "share" / "rllib-meta" / "tuned_examples",
    ]
    found: list[Path] = []
    for directory in candidates:
        if directory.is_dir() and directory.resolve() not in found:
            found.append(directory.resolve())
    return found


def tuned_examples() -> dict[str, Path]:
    """File name -> path of every tuned example (the first directory wins on a clash)."""
    examples: dict[str, Path] = {}
    for directory in tuned_example_dirs():
        for path in sorted(directory.glob("*.yaml")):
            examples.setdefault(path.name, path)
    return examples


def resolve_experiment_file(name: str) -> Path:
    """A path as given if it exists, else a tuned example by file name (``.yaml`` optional)."""
    path = Path(name).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        inside = sorted(p.name for p in path.glob("*.yaml"))
        more = f" and {len(inside) - 3} more" if len(inside) > 3 else ""
        listing = f"; it holds {', '.join(inside[:3])}{more}" if inside else ""
        raise ConfigError(f"{name!r} is a directory, expected a .yaml file{listing}.")
    examples = tuned_examples()
    for candidate in (path.name, path.name + ".yaml"):
        if candidate in examples:
            return examples[candidate]
    if not examples:
        raise ConfigError(f"experiment file {name!r} does not exist.")
    raise unknown_choice("experiment file (not found, nor a tuned example)", name, examples)
