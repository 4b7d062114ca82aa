"""Shared bits of the data entry points: logging format and boolean options."""

from __future__ import annotations

import argparse
import logging

from cifasr.utils.cli import str2bool

__all__ = ["add_log_level", "setup_logging", "str2bool"]


def setup_logging(level: str = "INFO") -> None:
    """ESPnet-style log lines: time, module:line, level, message."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s",
    )


def add_log_level(parser: argparse.ArgumentParser) -> None:
    """``--log_level`` (default INFO)."""
    parser.add_argument(
        "--log_level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging level (default: %(default)s)",
    )
