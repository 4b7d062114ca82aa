"""YAML configs that remember where each key was written, and errors that say so.

A config is a plain dict. :func:`load_config` also returns a :class:`KeyLocations` so that a
later check (an unknown key, a wrong type) can name the file and the line of the offending key.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A config is wrong; the message names the file, the key (and line) and what to do."""


class KeyLocations:
    """Maps dotted key paths (``"encoder_conf.num_blocks"``) of a YAML file to line numbers.

    Args:
        source: the file name shown in messages (``"<dict>"`` for a config built in Python).
        lines: dotted key path -> 1-based line number.
    """

    def __init__(
        self,
        source: str = "<dict>",
        lines: dict[str, int] | None = None,
        elsewhere: dict[str, str] | None = None,
    ) -> None:
        self.source = source
        self.lines = lines or {}
        # key path -> the source of a value that did not come from the file (the command line)
        self.elsewhere = elsewhere or {}

    def where(self, key_path: str) -> str:
        """``"conf.yaml, line 12, key 'encoder_conf.num_blocks'"`` (line omitted when unknown;
        ``"the command line, key '...'"`` for a key :meth:`overridden` there, or inside one)."""
        parts = key_path.split(".")
        for n in range(len(parts), 0, -1):
            source = self.elsewhere.get(".".join(parts[:n]))
            if source is not None:
                return f"{source}, key '{key_path}'"
        line = self.lines.get(key_path)
        at = f", line {line}" if line is not None else ""
        return f"{self.source}{at}, key '{key_path}'"

    def overridden(
        self, key_paths: Iterable[str], source: str = "the command line"
    ) -> KeyLocations:
        """A copy in which ``key_paths`` (dotted) were set by ``source``, not by the file."""
        elsewhere = {**self.elsewhere, **{k: source for k in key_paths}}
        return KeyLocations(self.source, dict(self.lines), elsewhere)


def _record_lines(node: yaml.Node, prefix: str, lines: dict[str, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
            lines[path] = key_node.start_mark.line + 1
            _record_lines(value_node, path, lines)


def load_config(path: str | Path) -> tuple[dict[str, Any], KeyLocations]:
    """Read a YAML mapping and the line of every key in it.

    Args:
        path: a YAML file whose top level is a mapping (an empty file gives ``{}``).

    Returns:
        ``(config, locations)``.

    Raises:
        ConfigError: the file is missing, is not valid YAML, or its top level is not a mapping.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the config ({e.strerror})") from e
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        config = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping of keys, got {type(config).__name__}"
        )
    lines: dict[str, int] = {}
    if node is not None:
        _record_lines(node, "", lines)
    return config, KeyLocations(str(path), lines)


def as_config(config: str | Path | Mapping[str, Any]) -> tuple[dict[str, Any], KeyLocations]:
    """Accept a YAML path or an in-memory mapping; return a deep-copied dict and its locations."""
    if isinstance(config, (str, Path)):
        return load_config(config)
    if not isinstance(config, Mapping):
        raise ConfigError(f"a config must be a YAML path or a mapping, got {type(config).__name__}")
    return yaml.safe_load(yaml.safe_dump(dict(config))) or {}, KeyLocations()


def closest(key: str, candidates: Iterable[str]) -> str | None:
    """The candidate most similar to ``key`` (difflib ratio >= 0.5), or None."""
    found = difflib.get_close_matches(key, list(candidates), n=1, cutoff=0.5)
    return found[0] if found else None


def unknown_key_error(
    key: str, valid: Iterable[str], locations: KeyLocations, prefix: str = "", what: str = ""
) -> ConfigError:
    """The error for a key that is not accepted, naming the file, line, key and the closest key."""
    valid = sorted(valid)
    path = f"{prefix}.{key}" if prefix else key
    hint = closest(key, valid)
    suggestion = f"; did you mean '{hint}'?" if hint else ""
    scope = f" for {what}" if what else ""
    return ConfigError(
        f"{locations.where(path)}: unknown key{scope}{suggestion} Valid keys: {', '.join(valid)}"
    )


def dump_config(config: Mapping[str, Any]) -> str:
    """YAML text of a config, keys in insertion order, unicode kept (token lists are Chinese)."""
    return yaml.safe_dump(
        _plain(config), sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000
    )


def _plain(value: Any) -> Any:
    """Tuples -> lists, Paths -> str, recursively, so that safe_dump accepts the value."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
