"""Which floating-point precision to compute in, resolved from the device.

Every entry point (training, decoding, the teacher dump, PLM pre-training, LM training and the
benchmarks) takes a precision request, ``auto`` by default, and resolves it here:

=========================================  ==========================================
device                                     ``auto`` gives
=========================================  ==========================================
CUDA, compute capability >= 8.0 (Ampere+)  bf16 autocast (native bf16)
older CUDA (Volta, Turing: V100, T4 ...)   fp16 autocast with a GradScaler in training
x86 CPU with AMX-BF16 or AVX512-BF16       bf16 autocast (oneDNN's native bf16 kernels)
any other CPU (AVX2, AVX512 without BF16)  fp32
=========================================  ==========================================

On a CPU without native bf16, autocast emulates bf16 and is 7-11x *slower* than fp32 (one
``Linear(256, 1024)`` on 512 rows: 12.7 ms fp32, 144.8 ms bf16 on an AVX2 AMD EPYC, torch 2.13),
so ``auto`` never picks it there; asking for ``bf16`` explicitly still runs, with a warning.
A CPU counts as native only when the ATen kernels run at AVX512 level and oneDNN may use its
bf16 instructions: ``ATEN_CPU_CAPABILITY=avx2`` or ``ONEDNN_MAX_CPU_ISA=AVX2`` (used to emulate an
AVX2 machine) turn it off.

CIF and the quantity/ACD losses stay float32 whatever the precision (they disable autocast).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

logger = logging.getLogger(__name__)

#: Accepted spellings of each precision (configs say ``amp: auto|fp32|bf16|fp16``; decoding
#: options also accept the dtype names ``float32``/``bfloat16``/``float16``).
ALIASES: dict[str, str] = {
    "auto": "auto",
    "fp32": "fp32",
    "float32": "fp32",
    "none": "fp32",
    "bf16": "bf16",
    "bfloat16": "bf16",
    "fp16": "fp16",
    "float16": "fp16",
}
DTYPES: dict[str, torch.dtype] = {
    "fp32": torch.float32,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}
#: The key under which an experiment's config.yaml records the resolved precision (informative:
#: ignored when the config is read again, since another machine may resolve differently).
RECORD_KEY = "precision"
#: The slowdown of emulated bf16 measured on AVX2 CPUs (see the module docstring).
EMULATED_BF16_SLOWDOWN = "7-11x"
# oneDNN ISA limits (ONEDNN_MAX_CPU_ISA) that still allow its bf16 instructions.
_ONEDNN_BF16_ISAS = ("ALL", "DEFAULT", "AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX10_1_512")


@dataclass(frozen=True)
class Precision:
    """A resolved precision.

    Attributes:
        requested: what was asked for, normalised (``auto``, ``fp32``, ``bf16`` or ``fp16``).
        name: what runs: ``fp32``, ``bf16`` or ``fp16`` (the latter two as autocast).
        device: the device line it was resolved for, e.g. ``cpu: AMD EPYC (AVX2)``.
        reason: why, in a few words.
        warning: set when an explicit request is expected to run slowly on this device.
    """

    requested: str
    name: str
    device: str
    reason: str
    warning: str | None = None

    @property
    def dtype(self) -> torch.dtype:
        """The compute dtype (float32, bfloat16 or float16)."""
        return DTYPES[self.name]

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """The autocast dtype, or None for plain float32."""
        return None if self.name == "fp32" else self.dtype

    @property
    def grad_scaler(self) -> bool:
        """Whether training needs a GradScaler (fp16's narrow exponent range)."""
        return self.name == "fp16"

    def autocast(self, device_type: str) -> contextlib.AbstractContextManager:
        """``torch.autocast`` for this precision on ``device_type`` (a no-op for fp32)."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device_type, dtype=self.autocast_dtype)

    def record(self) -> dict[str, str]:
        """What an experiment's config.yaml stores under :data:`RECORD_KEY`."""
        return {
            "requested": self.requested,
            "resolved": self.name,
            "device": self.device,
            "reason": self.reason,
        }

    def describe(self) -> str:
        """One log line: ``precision fp32 (amp: auto): <reason>; <device>``."""
        return f"precision {self.name} (requested: {self.requested}): {self.reason}; {self.device}"

    def log(self, log: logging.Logger = logger) -> None:
        """Log the choice (info) and the warning, if any."""
        log.info("%s", self.describe())
        if self.warning:
            log.warning("%s", self.warning)


def normalize_request(request: str, what: str = "amp") -> str:
    """``auto``/``fp32``/``bf16``/``fp16`` for any accepted spelling.

    Raises:
        ValueError: an unknown spelling, naming ``what`` (the config key or option) and the
            accepted values.
    """
    key = str(request).strip().lower()
    if key not in ALIASES:
        raise ValueError(
            f"{what}: unknown precision '{request}'; use auto (the default: bf16 where the "
            f"device computes it natively, else fp32), fp32, bf16 or fp16"
        )
    return ALIASES[key]


def cpu_features() -> Mapping[str, Any]:
    """The CPU's feature flags as torch reports them (``{"avx512_bf16": True, ...}``).

    Falls back to the flags of /proc/cpuinfo on torch versions without
    ``torch.cpu.get_capabilities``.
    """
    get = getattr(torch.cpu, "get_capabilities", None)
    if get is not None:
        return get()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return {flag: True for flag in line.split(":", 1)[1].split()}
    except OSError:
        pass
    return {}


def cpu_native_bf16(
    capability: str | None = None,
    features: Mapping[str, Any] | None = None,
    onednn_max_isa: str | None = None,
) -> tuple[bool, str]:
    """Whether bf16 autocast runs on native instructions on this CPU, and a short why.

    Args:
        capability: ``torch.backends.cpu.get_cpu_capability()`` (``AVX2``, ``AVX512``, ...);
            None reads it.
        features: :func:`cpu_features`; None reads them.
        onednn_max_isa: the ``ONEDNN_MAX_CPU_ISA`` limit; None reads the environment.

    Returns:
        ``(native, detail)``, e.g. ``(False, "AVX2, no AMX-BF16 or AVX512-BF16")``.
    """
    capability = capability or torch.backends.cpu.get_cpu_capability()
    features = cpu_features() if features is None else features
    if onednn_max_isa is None:
        onednn_max_isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "")
    native = [name for name in ("amx_bf16", "avx512_bf16") if features.get(name)]
    if not native:
        return False, f"{capability}, no AMX-BF16 or AVX512-BF16"
    flags = "+".join(f.upper().replace("_", "-") for f in native)
    if capability.upper() != "AVX512":
        return False, f"{flags} present but torch runs {capability} kernels"
    isa = onednn_max_isa.strip().upper()
    if isa and not (isa in _ONEDNN_BF16_ISAS or "AMX" in isa):
        return False, f"{flags} present but ONEDNN_MAX_CPU_ISA={onednn_max_isa}"
    return True, f"{capability} with {flags}"


def device_line(device: torch.device | str = "cpu") -> str:
    """The device as benchmarks and logs print it: CPU model, torch capability and bf16 support,
    or the GPU's name and compute capability."""
    device = torch.device(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        major, minor = torch.cuda.get_device_capability(index)
        return f"cuda: {torch.cuda.get_device_name(index)} (sm_{major}{minor})"
    if device.type == "cpu":
        name = str(cpu_features().get("cpu_name", "") or "unknown CPU")
        native, detail = cpu_native_bf16()
        return (
            f"cpu: {name}, {torch.get_num_threads()} threads, {detail} "
            f"(native bf16: {'yes' if native else 'no'})"
        )
    return str(device)


def resolve_precision(
    request: str,
    device: torch.device | str = "cpu",
    *,
    what: str = "amp",
    cpu: tuple[bool, str] | None = None,
    cuda_capability: tuple[int, int] | None = None,
    device_name: str | None = None,
) -> Precision:
    """Resolve a precision request for ``device``.

    Args:
        request: ``auto``, ``fp32``, ``bf16`` or ``fp16`` (or an alias, see :data:`ALIASES`).
        device: where the network runs.
        what: the config key or option named in messages (``amp``, ``--dtype``).
        cpu: ``(native, detail)`` as :func:`cpu_native_bf16` returns it; None probes this CPU.
        cuda_capability: ``(major, minor)`` of the GPU; None asks torch.
        device_name: the device line; None builds it with :func:`device_line`.

    Raises:
        ValueError: an unknown request, or fp16 on a CPU (it needs loss scaling on a GPU).
    """
    requested = normalize_request(request, what)
    device = torch.device(device)
    if device.type == "cuda":
        if cuda_capability is None:
            index = device.index if device.index is not None else torch.cuda.current_device()
            cuda_capability = torch.cuda.get_device_capability(index)
        name = device_name or device_line(device)
        native = cuda_capability[0] >= 8
        sm = f"sm_{cuda_capability[0]}{cuda_capability[1]}"
        if requested == "auto":
            if native:
                return Precision(requested, "bf16", name, f"native bf16 on {sm}")
            return Precision(
                requested, "fp16", name, f"no native bf16 on {sm}: fp16 with loss scaling"
            )
        warning = None
        if requested == "bf16" and not native:
            warning = (
                f"{what}: bf16 on a GPU without native bf16 ({sm}) is slow or unsupported; "
                f"use auto (fp16 with loss scaling there)"
            )
        return Precision(requested, requested, name, f"{what}: {requested} requested", warning)

    native, detail = cpu if cpu is not None else cpu_native_bf16()
    name = device_name or (device_line(device) if cpu is None else f"{device.type}: {detail}")
    if requested == "fp16":
        raise ValueError(
            f"{what}: fp16 needs a CUDA device (loss scaling); on the CPU use auto, bf16 or fp32"
        )
    if requested == "auto":
        if device.type == "cpu" and native:
            return Precision(requested, "bf16", name, f"native bf16 ({detail})")
        return Precision(requested, "fp32", name, f"no native bf16 ({detail})")
    warning = None
    if requested == "bf16" and not native:
        warning = (
            f"{what}: bf16 on a CPU without native bf16 ({detail}): autocast emulates it, "
            f"expect it to run about {EMULATED_BF16_SLOWDOWN} slower than fp32; use auto"
        )
    return Precision(requested, requested, name, f"{what}: {requested} requested", warning)
