"""`amp: auto` / `--dtype auto`: the precision each device gets, and what every shipped config
resolves to on a CPU without native bf16."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cifasr.bin.asr_inference import DecodeOptions
from cifasr.tasks.asr import resolve_config
from cifasr.tasks.lm import resolve_lm_config
from cifasr.utils.config import ConfigError
from cifasr.utils.precision import cpu_native_bf16, resolve_precision

ROOT = Path(__file__).resolve().parents[3]
AVX2_ONLY = {"avx2": True, "fma3": True}
AVX512_NO_BF16 = {"avx2": True, "avx512_f": True, "avx512_vnni": True}
AVX512_BF16 = {**AVX512_NO_BF16, "avx512_bf16": True}
SAPPHIRE_RAPIDS = {**AVX512_BF16, "amx_tile": True, "amx_bf16": True}


@pytest.mark.parametrize(
    "capability, features, isa, native",
    [
        ("AVX2", AVX2_ONLY, "", False),
        ("AVX512", AVX512_NO_BF16, "", False),  # e.g. Skylake/Cascade Lake servers
        ("AVX512", AVX512_BF16, "", True),  # Zen 4, Cooper Lake
        ("AVX512", SAPPHIRE_RAPIDS, "", True),
        ("AVX2", AVX512_BF16, "", False),  # ATEN_CPU_CAPABILITY=avx2 on a bf16 CPU
        ("AVX512", AVX512_BF16, "AVX2", False),  # ONEDNN_MAX_CPU_ISA=AVX2
        ("AVX512", AVX512_BF16, "AVX512_CORE", False),
        ("AVX512", AVX512_BF16, "AVX512_CORE_BF16", True),
        ("AVX512", SAPPHIRE_RAPIDS, "AVX512_CORE_AMX", True),
        ("DEFAULT", {}, "", False),  # aarch64 and others: fp32
    ],
)
def test_cpu_native_bf16_from_capability_and_features(
    capability: str, features: dict, isa: str, native: bool
) -> None:
    got, detail = cpu_native_bf16(capability, features, isa)
    assert got is native, detail
    assert capability in detail or isa in detail


@pytest.mark.parametrize(
    "cpu_features, expected",
    [
        (AVX2_ONLY, "fp32"),
        (AVX512_NO_BF16, "fp32"),
        (AVX512_BF16, "bf16"),
        (SAPPHIRE_RAPIDS, "bf16"),
    ],
)
def test_auto_on_cpus(cpu_features: dict, expected: str) -> None:
    cap = "AVX512" if cpu_features.get("avx512_f") else "AVX2"
    p = resolve_precision("auto", "cpu", cpu=cpu_native_bf16(cap, cpu_features, ""))
    assert p.name == expected
    assert p.warning is None
    assert p.autocast_dtype == (None if expected == "fp32" else torch.bfloat16)
    assert not p.grad_scaler


@pytest.mark.parametrize(
    "capability, expected, scaler",
    [
        ((9, 0), "bf16", False),
        ((8, 0), "bf16", False),
        ((8, 6), "bf16", False),
        ((7, 5), "fp16", True),
        ((7, 0), "fp16", True),
        ((6, 1), "fp16", True),
    ],
)
def test_auto_on_gpus(capability: tuple[int, int], expected: str, scaler: bool) -> None:
    p = resolve_precision("auto", "cuda:0", cuda_capability=capability, device_name="cuda: X")
    assert (p.name, p.grad_scaler) == (expected, scaler)
    assert f"sm_{capability[0]}{capability[1]}" in p.reason


def test_explicit_bf16_on_an_avx2_cpu_runs_with_a_warning_naming_the_slowdown() -> None:
    p = resolve_precision("bf16", "cpu", cpu=cpu_native_bf16("AVX2", AVX2_ONLY, ""))
    assert p.name == "bf16"
    assert "7-11x slower than fp32" in p.warning
    assert resolve_precision("bf16", "cpu", cpu=(True, "AVX512 with AVX512-BF16")).warning is None


def test_explicit_bf16_on_a_t4_warns_and_fp16_on_a_cpu_is_an_error() -> None:
    p = resolve_precision("bf16", "cuda", cuda_capability=(7, 5), device_name="cuda: T4")
    assert p.name == "bf16" and "sm_75" in p.warning
    with pytest.raises(ValueError, match="fp16 needs a CUDA device"):
        resolve_precision("fp16", "cpu", cpu=(True, "AMX"))


@pytest.mark.parametrize(
    "alias, name", [("none", "fp32"), ("float32", "fp32"), ("bfloat16", "bf16")]
)
def test_aliases(alias: str, name: str) -> None:
    assert resolve_precision(alias, "cpu", cpu=(True, "x")).name == name


def test_an_unknown_amp_value_names_the_file_and_line(tmp_path: Path) -> None:
    cfg = tmp_path / "train.yaml"
    cfg.write_text("seed: 1\namp: half\n")
    with pytest.raises(ConfigError, match=r"train.yaml, line 2, key 'amp'.*unknown precision"):
        resolve_config(cfg)


def _shipped(pattern: str) -> list[Path]:
    paths = sorted(ROOT.glob(f"egs2/*/asr1/conf/{pattern}"))
    assert paths, pattern
    return paths


@pytest.mark.parametrize("path", _shipped("train_*.yaml"), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_training_config_resolves_to_fp32_on_avx2_and_bf16_on_native_cpus(
    path: Path,
) -> None:
    resolve = resolve_lm_config if path.name.startswith("train_lm") else resolve_config
    amp = resolve(path)["amp"]
    assert amp == "auto"
    avx2 = cpu_native_bf16("AVX2", AVX2_ONLY, "")
    assert resolve_precision(amp, "cpu", cpu=avx2).name == "fp32"
    assert resolve_precision(amp, "cpu", cpu=(True, "AMX-BF16")).name == "bf16"


@pytest.mark.parametrize("path", _shipped("decode*.yaml"), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_decoding_config_resolves_to_fp32_on_avx2(path: Path) -> None:
    dtype = DecodeOptions.load(path, {}).dtype
    assert dtype == "auto"
    avx2 = cpu_native_bf16("AVX2", AVX2_ONLY, "")
    assert resolve_precision(dtype, "cpu", cpu=avx2, what="dtype").name == "fp32"


def test_this_process_probe_follows_aten_cpu_capability() -> None:
    """The real probe (no injected values) in a process whose ATen kernels are limited to AVX2,
    as on an AVX2-only machine, resolves auto to fp32."""
    code = (
        "from cifasr.utils.precision import resolve_precision, device_line; "
        "p = resolve_precision('auto'); print(p.name); print(device_line())"
    )
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == "fp32"
    assert "AVX2" in out[1] and "native bf16: no" in out[1]
