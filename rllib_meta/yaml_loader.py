"""YAML loading that remembers where every key came from and refuses duplicate keys.

Errors about a config key can then say ``file.yaml:12``, and a key written twice (which PyYAML
would silently resolve to the last value) is an error instead of a surprise.
"""

from collections.abc import Mapping
from pathlib import Path

import yaml

from rllib_meta.errors import ConfigError
from rllib_meta.search_spaces import is_search_space


class SourceDict(dict):
    """A dict that knows, per key, where it was written (``"file.yaml:12"`` or ``"--config"``)."""

    def __init__(self, *args, locations: Mapping[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.locations: dict[str, str] = dict(locations or {})


def location(mapping: Mapping, key: str) -> str:
    """Where ``key`` of ``mapping`` was written, or ``""`` if unknown."""
    return mapping.locations.get(key, "") if isinstance(mapping, SourceDict) else ""


def _loader_for(source: str) -> type[yaml.SafeLoader]:
    class Loader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> SourceDict:
        loader.flatten_mapping(node)
        result = SourceDict()
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            where = f"{source}:{key_node.start_mark.line + 1}"
            if key in result:
                raise ConfigError(
                    f"{where}: duplicate key {key!r} (first at {result.locations[key]})."
                )
            result[key] = loader.construct_object(value_node, deep=True)
            result.locations[key] = where
        return result

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return Loader


def load_yaml(path: str | Path) -> object:
    """Parse a YAML file; syntax errors become ``ConfigError`` naming file, line and column."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path} is a directory, expected a .yaml file.")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}.") from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path}: not a text file (byte {error.object[error.start]:#04x} at offset "
            f"{error.start} is not UTF-8); expected a YAML file."
        ) from None
    try:
        return yaml.load(text, Loader=_loader_for(str(path)))  # a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: malformed YAML: {error.problem or error.context}.") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: malformed YAML: {error}.") from None


def deep_merge(base: Mapping, override: Mapping, source: str) -> SourceDict:
    """``base`` updated by ``override``; nested mappings merge, other values are replaced.

    Keys that come from ``override`` are located at ``source`` (e.g. ``"--config"``). A search
    space (``{grid_search: [...]}``) is a value, never merged into.
    """
    merged = SourceDict(base, locations=getattr(base, "locations", {}))
    for key, value in override.items():
        old = merged.get(key)
        mergeable = isinstance(value, Mapping) and isinstance(old, Mapping)
        if mergeable and not is_search_space(value) and not is_search_space(old):
            merged[key] = deep_merge(old, value, source)
        else:
            merged[key] = value
        merged.locations[key] = source
    return merged
