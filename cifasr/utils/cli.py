"""Command-line overrides of config keys, ESPnet style.

``--max_epoch 10`` sets a top-level key (the value is read as YAML); ``--encoder_conf
num_blocks=12,output_size=128`` or ``--encoder_conf '{num_blocks: 12}'`` updates a ``*_conf``
mapping key by key.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import yaml

from cifasr.utils.config import ConfigError


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["--key", "value", "--x_conf", "k=v,k2=v2", "--flag=value"]`` -> a dict of overrides.

    Raises:
        ConfigError: an item that is not ``--key value`` or ``--key=value``.
    """
    out: dict[str, Any] = {}
    items = list(items)
    i = 0
    while i < len(items):
        key = items[i]
        if not key.startswith("--"):
            raise ConfigError(f"command line: expected --key value, got '{key}'")
        key = key[2:]
        if "=" in key:
            key, raw = key.split("=", 1)
            i += 1
        elif i + 1 < len(items):
            raw = items[i + 1]
            i += 2
        else:
            raise ConfigError(f"command line: --{key} needs a value")
        if key.endswith("_conf") and not raw.lstrip().startswith("{") and "=" in raw:
            value: Any = {}
            for pair in raw.split(","):
                k, _, v = pair.partition("=")
                value[k.strip()] = yaml.safe_load(v)
        else:
            value = yaml.safe_load(raw)
        if key.endswith("_conf") and isinstance(value, dict):
            out.setdefault(key, {}).update(value)
        else:
            out[key] = value
    return out


def apply_overrides(config: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``config`` updated with ``overrides`` (``*_conf`` mappings merged key by key)."""
    out = dict(config)
    for key, value in overrides.items():
        if key.endswith("_conf") and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def str2bool(value: str) -> bool:
    """``true``/``false`` (any case), as ESPnet's option parser accepts them."""
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got '{value}'")
