"""Pictures of training: loss/CER curves per epoch and CIF firing over the fbank image.

matplotlib is an optional extra (``pip install cifasr[plot]``); without it these functions log
once and return.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

logger = logging.getLogger(__name__)
_warned = False
# Installed fonts that draw Chinese characters, best first (Debian: fonts-droid-fallback, which
# tools/setup.sh installs, fonts-noto-cjk, fonts-wqy-zenhei).
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "Droid Sans Fallback",
)
# Files of such fonts, registered directly (matplotlib's font cache may predate their install).
CJK_FONT_FILES = (
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
_cjk_font: str | None = None


def _pyplot() -> Any:
    global _warned
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        if not _warned:
            logger.info("matplotlib is not installed; no plots (pip install matplotlib)")
            _warned = True
        return None
    _use_cjk_font(matplotlib)
    return plt


def _use_cjk_font(matplotlib: Any) -> None:
    """Add the first installed font of CJK_FONTS as the fallback of the default font (once)."""
    global _cjk_font
    if _cjk_font is not None:
        return
    from matplotlib import font_manager

    for path in CJK_FONT_FILES:
        if Path(path).is_file():
            font_manager.fontManager.addfont(path)
    installed = {f.name for f in font_manager.fontManager.ttflist}
    _cjk_font = next((name for name in CJK_FONTS if name in installed), "")
    if _cjk_font:
        # A family list: matplotlib falls back glyph by glyph, Latin from the default font and
        # Chinese from the CJK one (which may lack Latin letters).
        default = matplotlib.rcParams["font.sans-serif"][:1]
        matplotlib.rcParams["font.family"] = [*default, _cjk_font]
    else:
        logger.info(
            "no font for Chinese characters found (%s); CIF firing plots label non-ASCII tokens "
            "with their ids (apt-get install fonts-droid-fallback to draw them)",
            ", ".join(CJK_FONTS),
        )


def _label(token: str, token_id: int) -> str:
    """The token as drawn: its id when it is not ASCII and no CJK font is installed."""
    return token if _cjk_font or token.isascii() else f"#{token_id}"


def plot_curves(history: Sequence[dict[str, Any]], out_dir: str | Path) -> None:
    """One PNG per statistic (``loss.png``, ``cer_tf.png``, ...): train and valid per epoch."""
    plt = _pyplot()
    if plt is None or not history:
        return
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    keys = sorted({k for rec in history for ph in ("train", "valid") for k in rec.get(ph, {})})
    for key in keys:
        fig, ax = plt.subplots(figsize=(6, 4))
        for phase in ("train", "valid"):
            pts = [(r["epoch"], r[phase][key]) for r in history if key in r.get(phase, {})]
            if pts:
                ax.plot(*zip(*pts), marker="o", markersize=3, label=phase)
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out_dir / f"{key}.png", dpi=100)
        plt.close(fig)


@torch.no_grad()
def plot_cif_firing(
    model: torch.nn.Module, batch: dict[str, Any], prefix: Path, max_utts: int = 3
) -> None:
    """For the first utterances of ``batch``: the normalised fbank image, the CIF weights per
    encoder frame (stretched to input frames) and a line at every fire, labelled with the token
    fired (the greedy teacher-forced argmax). Written as ``<prefix>_<utt>.png``."""
    plt = _pyplot()
    if plt is None:
        return
    Path(prefix).parent.mkdir(parents=True, exist_ok=True)
    model.eval()
    n = min(max_utts, len(batch["utt_id"]))
    speech, lengths = batch["speech"][:n], batch["speech_lengths"][:n]
    text, text_lengths = batch["text"][:n], batch["text_lengths"][:n]
    out = model.compute_outputs(speech, lengths, text, text_lengths)
    feats, _ = (
        model.normalize(speech, lengths) if model.normalize is not None else (speech, lengths)
    )
    tokens = getattr(model, "token_list", None)
    pred = out.decoder_logits.argmax(-1) if out.decoder_logits is not None else None
    for b in range(n):
        t_in = int(lengths[b])
        t_enc = int(out.encoder_lengths[b])
        rate = t_in / max(t_enc, 1)
        fig, (ax1, ax2) = plt.subplots(
            2, 1, figsize=(10, 5), sharex=True, gridspec_kw={"height_ratios": [2, 1]}
        )
        ax1.imshow(
            feats[b, :t_in].float().cpu().T.numpy(), origin="lower", aspect="auto", cmap="viridis"
        )
        ax1.set_ylabel("fbank bin")
        alphas = out.alphas[b, :t_enc].float().cpu().numpy()
        ax2.bar([(i + 0.5) * rate for i in range(t_enc)], alphas, width=rate * 0.9)
        ax2.set_ylabel("CIF weight")
        ax2.set_xlabel("input frame (10 ms)")
        for j in range(int(out.cif_lengths[b])):
            frame = int(out.fire_frames[b, j])
            x = (frame + 1) * rate
            for ax in (ax1, ax2):
                ax.axvline(x, color="red", linewidth=0.8)
            if pred is not None and tokens is not None and j < pred.size(1):
                ax1.text(
                    x,
                    feats.size(-1) - 1,
                    _label(tokens[int(pred[b, j])], int(pred[b, j])),
                    color="white",
                    fontsize=8,
                    ha="right",
                    va="top",
                )
        ax1.set_title(
            f"{batch['utt_id'][b]}: {int(out.cif_lengths[b])} fires, "
            f"sum of weights {alphas.sum():.2f}, {int(text_lengths[b]) + 1} targets"
        )
        fig.tight_layout()
        fig.savefig(f"{prefix}_{batch['utt_id'][b]}.png", dpi=90)
        plt.close(fig)
