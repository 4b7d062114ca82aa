"""Shared bits of the data entry points: logging format and boolean options."""

from __future__ import annotations

import argparse
import logging


def setup_logging(level: str = "INFO") -> None:
    """ESPnet-style log lines: time, module:line, level, message."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s",
    )


def str2bool(value: str) -> bool:
    """``true``/``false`` (any case), as ESPnet's option parser accepts them."""
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got '{value}'")


def add_log_level(parser: argparse.ArgumentParser) -> None:
    """``--log_level`` (default INFO)."""
    parser.add_argument(
        "--log_level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging level (default: %(default)s)",
    )
