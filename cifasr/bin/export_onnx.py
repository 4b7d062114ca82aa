"""Export a trained model to ONNX graphs for onnxruntime (stage 14 of asr.sh, --export_onnx true).

    python -m cifasr.bin.export_onnx --model_zip exp/asr/asr_model.zip --output_dir exp/asr/onnx
    python -m cifasr.bin.export_onnx --asr_train_config exp/asr/config.yaml \\
        --asr_model_file exp/asr/valid.acc.best.pth --output_dir exp/asr/onnx

Writes ``encoder.onnx`` (features -> encoder + CIF), the decoder graphs (``decoder_init.onnx`` and
``decoder_step.onnx`` for the AR decoder, ``decoder.onnx`` for the NAR one), their int8 dynamic
quantisations (``*.int8.onnx``, unless ``--quantize none``), ``config.yaml`` and
``onnx_meta.yaml``. The export is verified against PyTorch before it is reported done. Decode
with ``python -m cifasr.bin.asr_inference --onnx_dir DIR [--onnx_precision int8]`` or
``Speech2Text.from_onnx(DIR)``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from cifasr.bin._common import add_log_level, setup_logging
from cifasr.export.onnx_export import MIN_OPSET, ExportError, export_onnx
from cifasr.inference.speech2text import packed_model_files
from cifasr.utils.config import ConfigError, load_config

logger = logging.getLogger("cifasr.bin.export_onnx")


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model_zip", help="a model packed by cifasr.bin.pack (stage 14)")
    src.add_argument("--asr_train_config", help="the experiment's config.yaml")
    p.add_argument("--asr_model_file", help="weights (with --asr_train_config)")
    p.add_argument("--bpemodel", help="sentencepiece model (token_type bpe, with a config)")
    p.add_argument("--output_dir", required=True)
    p.add_argument("--opset", type=int, default=MIN_OPSET, help="ONNX opset (>= 17)")
    p.add_argument(
        "--quantize",
        choices=["int8", "none"],
        default="int8",
        help="also write int8 dynamically quantised graphs (default: %(default)s)",
    )
    add_log_level(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    lm: dict[str, Path | None] = {"lm_train_config": None, "lm_file": None}
    try:
        if args.model_zip:
            files = packed_model_files(args.model_zip)
            config_path, model_file = files["asr_train_config"], files["asr_model_file"]
            lm = {k: files.get(k) for k in lm}
            bpemodel = args.bpemodel or (config_path.parent / "bpe.model")
        else:
            if not args.asr_model_file:
                print("export_onnx: --asr_train_config needs --asr_model_file", file=sys.stderr)
                return 1
            config_path, model_file = Path(args.asr_train_config), Path(args.asr_model_file)
            bpemodel = args.bpemodel
            if not model_file.is_file():
                raise FileNotFoundError(f"{model_file}: no such model weights file")
        config, locations = load_config(config_path)
        if config.get("token_type") == "bpe" and not (bpemodel and Path(bpemodel).is_file()):
            raise ConfigError(
                f"{config_path}: token_type is bpe: give the sentencepiece model (--bpemodel)"
            )
        export_onnx(
            config,
            model_file,
            args.output_dir,
            opset=args.opset,
            quantize=args.quantize == "int8",
            bpemodel=bpemodel if config.get("token_type") == "bpe" else None,
            locations=locations,
            **lm,
        )
    except (ConfigError, ExportError, FileNotFoundError, ValueError) as e:
        print(f"export_onnx: {e}", file=sys.stderr)
        return 1
    logger.info("wrote %s", args.output_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
