"""Read one key of a resolved config, for shell scripts.

python -m cifasr.bin.config_query --config conf/train_cif_hkd.yaml --key distillers
# -> "acd lrd" (a mapping prints its keys; null prints nothing)
"""

from __future__ import annotations

import argparse
import sys

from cifasr.tasks.asr import resolve_config
from cifasr.utils.config import ConfigError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--config", required=True, help="an ASR config")
    p.add_argument(
        "--key", required=True, help="a top-level key, or dotted: encoder_conf.num_blocks"
    )
    args = p.parse_args(argv)
    try:
        value = resolve_config(args.config)
    except ConfigError as e:
        print(f"config_query: {e}", file=sys.stderr)
        return 1
    for part in args.key.split("."):
        if not isinstance(value, dict) or part not in value:
            print(f"config_query: {args.config}: no key '{args.key}'", file=sys.stderr)
            return 1
        value = value[part]
    if isinstance(value, dict):
        print(" ".join(str(k) for k in value))
    elif isinstance(value, list):
        print(" ".join(str(v) for v in value))
    elif value is not None:
        print(value)
    return 0


if __name__ == "__main__":
    sys.exit(main())
