"""What every benchmark prints first and how it chooses the precisions it times.

    from common import add_dtype_argument, precisions_to_time, print_header

``--dtype auto`` (the default) times fp32, the reference, and then what ``auto`` resolves to on
this device when that is not fp32 (bf16 on CPUs with AMX/AVX512-BF16 and on Ampere+ GPUs, fp16 on
older GPUs). ``--dtype fp32|bf16|fp16`` times fp32 and that one; ``--dtype all`` every precision
the device can run (fp16 on CUDA only), so the emulated bf16 of an AVX2 CPU can be shown too.
"""

from __future__ import annotations

import argparse
import os

import torch

from cifasr.utils.precision import Precision, device_line, resolve_precision


def add_dtype_argument(parser: argparse.ArgumentParser) -> None:
    """``--dtype auto|fp32|bf16|fp16|all`` (default auto)."""
    parser.add_argument(
        "--dtype",
        default="auto",
        choices=("auto", "fp32", "bf16", "fp16", "all"),
        help="precisions timed besides the fp32 reference (default auto: the one this device "
        "resolves to; all: every precision the device runs)",
    )


def precisions_to_time(dtype: str, device: torch.device | str) -> list[Precision]:
    """fp32 first (the reference of every ratio), then the requested precisions, no repeats."""
    device = torch.device(device)
    if dtype == "all":
        names = ["fp32", "bf16"] + (["fp16"] if device.type == "cuda" else [])
    else:
        names = ["fp32", dtype]
    out: list[Precision] = []
    for name in names:
        p = resolve_precision(name, device, what="--dtype")
        if p.name not in [q.name for q in out]:
            out.append(p)
    return out


def print_header(device: torch.device | str, dtype: str | None = None) -> None:
    """The device line, the allocator setting and (with ``dtype``) what ``auto`` resolves to."""
    print(f"device: {device_line(device)}")
    print(f"torch {torch.__version__}; threads {torch.get_num_threads()}")
    print(f"allocator: GLIBC_TUNABLES={os.environ.get('GLIBC_TUNABLES', '(unset: glibc default)')}")
    if dtype is not None:
        auto = resolve_precision("auto", device)
        print(f"precision: auto -> {auto.name} ({auto.reason}); timing --dtype {dtype}")
