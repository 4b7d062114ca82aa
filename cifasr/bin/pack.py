"""Pack a trained model for sharing (stage 14 of asr.sh).

    python -m cifasr.bin.pack --asr_train_config exp/asr/config.yaml \\
        --asr_model_file exp/asr/ave_last10epoch.pth --option exp/asr/RESULTS.md \\
        --outpath exp/asr/asr_model.zip

The zip holds ``meta.yaml`` (what is where), the inference config (distillers removed: their
teacher projections are training-only) and weights, the optional LM, and any ``--option`` files
(RESULTS.md, CMVN statistics, a sentencepiece model). ``Speech2Text.from_pretrained(zip)`` loads
it.
"""

from __future__ import annotations

import argparse
import datetime
import io
import logging
import sys
import zipfile
from pathlib import Path

import torch
import yaml

from cifasr.bin._common import add_log_level, setup_logging
from cifasr.inference.speech2text import PACK_META, build_inference_model
from cifasr.tasks.asr import count_parameters
from cifasr.utils.config import dump_config
from cifasr.version import __version__

logger = logging.getLogger("cifasr.bin.pack")


def pack(
    outpath: str | Path,
    asr_train_config: str | Path,
    asr_model_file: str | Path,
    lm_train_config: str | Path | None = None,
    lm_file: str | Path | None = None,
    options: list[str | Path] | tuple = (),
) -> Path:
    """Write the zip and return its path."""
    config = yaml.safe_load(Path(asr_train_config).read_text(encoding="utf-8"))
    bpemodel = config.get("bpemodel")
    config, state, model = build_inference_model(config, asr_model_file)
    logger.info("inference model: %s parameters", f"{count_parameters(model):,}")
    files = {"asr_train_config": "asr/config.yaml", "asr_model_file": "asr/model.pth"}
    outpath = Path(outpath)
    outpath.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(outpath, "w", compression=zipfile.ZIP_DEFLATED) as z:
        if bpemodel:
            z.write(bpemodel, "asr/bpe.model")
            config["bpemodel"] = "bpe.model"
        z.writestr(files["asr_train_config"], dump_config(config))
        buf = io.BytesIO()
        torch.save(state, buf)
        z.writestr(files["asr_model_file"], buf.getvalue())
        if lm_train_config and lm_file:
            files["lm_train_config"] = "lm/config.yaml"
            files["lm_file"] = "lm/model.pth"
            z.write(lm_train_config, files["lm_train_config"])
            z.write(lm_file, files["lm_file"])
        extra = []
        for opt in options:
            name = f"extra/{Path(opt).name}"
            z.write(opt, name)
            extra.append(name)
        meta = {
            "cifasr_version": __version__,
            "torch_version": str(torch.__version__),
            "created": datetime.datetime.now().isoformat(timespec="seconds"),
            "files": files,
            "extra": extra,
        }
        z.writestr(PACK_META, yaml.safe_dump(meta, sort_keys=False))
    logger.info("wrote %s", outpath)
    return outpath


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--asr_train_config", required=True)
    p.add_argument("--asr_model_file", required=True)
    p.add_argument("--lm_train_config")
    p.add_argument("--lm_file")
    p.add_argument("--option", action="append", default=[], help="extra file to include")
    p.add_argument("--outpath", required=True, help="the zip to write")
    add_log_level(p)
    args = p.parse_args(argv)
    setup_logging(args.log_level)
    pack(
        args.outpath,
        args.asr_train_config,
        args.asr_model_file,
        args.lm_train_config,
        args.lm_file,
        args.option,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
