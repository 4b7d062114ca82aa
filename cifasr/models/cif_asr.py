"""The CIF ASR model: front end, encoder, CIF, decoder and the losses (docs/losses.md).

``L = ce_weight * CE_ls + quantity_weight * L_qua + ctc_weight * L_ctc (+ distillation terms)``,
every term a sum over the batch, the total divided by the number of target tokens including
``<sos/eos>`` (fairseq's normalisation; the trainer combines batches weighted by that count).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import nn
from typeguard import typechecked

from cifasr.cif import quantity_loss
from cifasr.interfaces.outputs import CifModelOutputs
from cifasr.models.losses import CTC, label_smoothed_nll_loss
from cifasr.models.protocols import Decoder, Distiller, Encoder, FeatureTransform, Predictor
from cifasr.utils.edit_distance import edit_distance


def add_sos_eos(
    text: torch.Tensor, text_lengths: torch.Tensor, sos_eos: int, ignore_id: int = -1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decoder input and target for teacher forcing.

    Args:
        text: (B, N) ids padded with anything; text_lengths: (B,).
        sos_eos: the id of ``<sos/eos>`` (also the BOS fed to the decoder).

    Returns:
        ``(prev, target)`` both (B, N + 1): prev = [sos, y1..yN] (padding filled with sos),
        target = [y1..yN, eos] (padding ``ignore_id``).
    """
    b, n = text.shape
    pos = torch.arange(n + 1, device=text.device)[None, :]
    padded = torch.cat([text, text.new_full((b, 1), ignore_id)], dim=1)
    target = torch.where(pos < text_lengths[:, None], padded, ignore_id)
    target = torch.where(pos == text_lengths[:, None], sos_eos, target)
    prev = torch.cat([text.new_full((b, 1), sos_eos), target[:, :-1]], dim=1)
    prev = torch.where(prev == ignore_id, sos_eos, prev)
    return prev, target


class CifASRModel(nn.Module):
    """Encoder -> CIF -> decoder with CE, quantity and CTC losses (and optional distillers).

    The parts are ``nn.Module``s meeting the protocols of :mod:`cifasr.models.protocols` (what
    the model calls, with shapes); the constructor checks the types of every argument
    (``typeguard``), so a part without, say, ``output_size()`` or a ``weight`` of the wrong type
    fails here rather than in the first training step.

    Args:
        vocab_size: V; ids follow ESPnet (``<blank>`` 0, ``<unk>`` 1, ``<sos/eos>`` V - 1).
        token_list: the tokens (for logging hypotheses); may be None.
        normalize: feature normalisation (:class:`~cifasr.models.protocols.FeatureTransform`)
            or None.
        specaug: SpecAugment (a FeatureTransform, called in training mode only) or None.
        encoder: (B, T, D) features -> (B, T', C) (:class:`~cifasr.models.protocols.Encoder`).
        predictor: CIF weight predictor + CIF (:class:`~cifasr.models.protocols.Predictor`).
        decoder: CIF decoder (:class:`~cifasr.models.protocols.Decoder`).
        ctc: CTC head or None (built only when ``ctc_weight > 0``).
        distillers: name -> :class:`~cifasr.models.protocols.Distiller`; None for the baseline.
        ctc_weight: weight of the CTC loss (original 0.5).
        quantity_weight: weight of the quantity loss (original 1.0).
        ce_weight: weight of the label-smoothed CE (original 1.0).
        lsm_weight: label smoothing epsilon (original 0.1).
        ignore_id: padding id of targets.
        report_cer: compute the teacher-forced greedy CER (the original's dev metric) in eval mode.
        teacher_key: the batch key of the teacher features the distillers read
            (``<key>`` and ``<key>_lengths``).
    """

    @typechecked
    def __init__(
        self,
        vocab_size: int,
        token_list: list[str] | None,
        normalize: FeatureTransform | None,
        specaug: FeatureTransform | None,
        encoder: Encoder,
        predictor: Predictor,
        decoder: Decoder,
        ctc: CTC | None,
        distillers: Mapping[str, Distiller] | None = None,
        ctc_weight: float = 0.5,
        quantity_weight: float = 1.0,
        ce_weight: float = 1.0,
        lsm_weight: float = 0.1,
        ignore_id: int = -1,
        report_cer: bool = True,
        teacher_key: str = "plm",
    ) -> None:
        super().__init__()
        parts = {"normalize": normalize, "specaug": specaug, "encoder": encoder}
        parts.update(predictor=predictor, decoder=decoder, ctc=ctc)
        parts.update({f"distillers.{k}": v for k, v in (distillers or {}).items()})
        for name, part in parts.items():
            if part is not None and not isinstance(part, nn.Module):
                raise TypeError(
                    f"CifASRModel: {name} must be a torch.nn.Module (its parameters are trained "
                    f"with the model), got {type(part).__name__}"
                )
        if ctc_weight > 0 and ctc is None:
            raise ValueError("ctc_weight > 0 needs a CTC head")
        self.vocab_size = vocab_size
        self.token_list = list(token_list) if token_list is not None else None
        self.blank_id = 0
        self.unk_id = 1
        self.sos_eos = vocab_size - 1
        self.ignore_id = ignore_id
        self.normalize = normalize
        self.specaug = specaug
        self.encoder = encoder
        self.predictor = predictor
        self.decoder = decoder
        self.ctc = ctc
        self.distillers = nn.ModuleDict(dict(distillers or {}))
        self.ctc_weight = ctc_weight
        self.quantity_weight = quantity_weight
        self.ce_weight = ce_weight
        self.lsm_weight = lsm_weight
        self.report_cer = report_cer
        self.teacher_key = teacher_key
        # Set by the builder for online distillation: a frozen PLM (not a submodule, so its
        # weights stay out of state_dict, the optimiser and DDP) and ids -> transcript.
        self.online_teacher: Callable[[list[str]], tuple[torch.Tensor, torch.Tensor]] | None = None
        self.text_of: Callable[[list[int]], str] | None = None

    # ------------------------------------------------------------------ parts
    def encode(
        self, speech: torch.Tensor, speech_lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Features (B, T, D), lengths (B,) -> encoder output (B, T', C), lengths (B,).

        Normalisation, then SpecAugment (training mode only), then the encoder.
        """
        x, lengths = speech, speech_lengths
        if self.normalize is not None:
            x, lengths = self.normalize(x, lengths)
        if self.specaug is not None and self.training:
            x, lengths = self.specaug(x, lengths)
        return self.encoder(x, lengths)

    def compute_outputs(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        text: torch.Tensor | None = None,
        text_lengths: torch.Tensor | None = None,
    ) -> CifModelOutputs:
        """Run the network once; with text, also the teacher-forced decoder.

        In training mode the CIF weights are scaled to ``text_lengths + 1`` (when the predictor's
        ``scale_to_target`` is on); in eval mode they are not, and the predictor's tail handling
        applies. The decoder runs over ``L = min(#CIF, max target length)`` positions.
        """
        enc, enc_lens = self.encode(speech, speech_lengths)
        target_lengths = text_lengths + 1 if text_lengths is not None else None
        pred = self.predictor(enc, enc_lens, target_lengths)
        out = CifModelOutputs(
            encoder_out=enc,
            encoder_lengths=enc_lens,
            alphas=pred.alphas,
            cif_embeds=pred.embeds,
            cif_lengths=pred.token_lengths,
            fire_frames=pred.fire_frames,
        )
        if text is None or text_lengths is None:
            return out
        prev, target = add_sos_eos(text, text_lengths, self.sos_eos, self.ignore_id)
        length = min(pred.embeds.size(1), target.size(1))
        out.target = target[:, :length]
        out.target_lengths = target_lengths.clamp(max=length)
        if length == 0:
            return out
        embeds, lengths = pred.embeds[:, :length], pred.token_lengths.clamp(max=length)
        if self.training and getattr(self.decoder, "glancing_ratio", 0.0) > 0:
            # the NAR decoder's glancing sampler (cifasr/decoder/nar.py): some CIF outputs
            # become target-token embeddings in the trained pass
            targets = out.target.masked_fill(out.target == self.ignore_id, -1)
            embeds, _ = self.decoder.glance(embeds, lengths, targets, enc, enc_lens)
        dec = self.decoder(embeds, lengths, prev[:, :length], enc, enc_lens)
        out.decoder_logits = dec.logits
        out.decoder_states = dec.states
        out.decoder_hidden = dec.hidden
        return out

    # ------------------------------------------------------------------ training
    def forward(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        **teacher: torch.Tensor,
    ) -> tuple[torch.Tensor, dict[str, float], torch.Tensor]:
        """Loss of a batch.

        Args:
            speech: (B, T, D) features; speech_lengths: (B,) frames.
            text: (B, N) token ids padded with -1 (no ``<sos/eos>``); text_lengths: (B,).
            **teacher: extra batch entries; the distillers read ``<teacher_key>`` (B, N + 1, Dt)
                and ``<teacher_key>_lengths``; other keys are ignored.

        Returns:
            ``(loss, stats, weight)``: loss is the weighted sum of all terms divided by the number
            of target tokens (``<sos/eos>`` included); stats holds every term per token (nats),
            the teacher-forced accuracy and, in eval mode, the teacher-forced CER; weight is that
            token count, for combining batches and processes.
        """
        out = self.compute_outputs(speech, speech_lengths, text, text_lengths)
        ntokens = (text_lengths + 1).sum()
        denom = ntokens.float()
        zero = speech.new_zeros((), dtype=torch.float32)

        loss_qua = quantity_loss(self._alpha_sums(out), text_lengths + 1)
        if out.decoder_logits is not None:
            loss_ce, nll = label_smoothed_nll_loss(
                out.decoder_logits, out.target, self.lsm_weight, self.ignore_id
            )
        else:
            loss_ce, nll = zero, zero
        total = self.ce_weight * loss_ce + self.quantity_weight * loss_qua
        stats: dict[str, float] = {}
        if self.ctc is not None and self.ctc_weight > 0:
            _, ys = add_sos_eos(text, text_lengths, self.sos_eos, self.ignore_id)
            loss_ctc = self.ctc(out.encoder_out, out.encoder_lengths, ys, text_lengths + 1)
            total = total + self.ctc_weight * loss_ctc
            stats["loss_ctc"] = loss_ctc.detach() / denom
        if len(self.distillers):
            plm, plm_lengths = self._teacher(teacher, text, text_lengths, speech.device)
        for name, distiller in self.distillers.items():
            loss_d, d_stats = distiller(out, plm, plm_lengths)
            total = total + distiller.weight * loss_d
            stats[f"loss_{name}"] = loss_d.detach() / denom
            stats.update({f"{name}_{k}": v for k, v in d_stats.items()})

        loss = total / denom
        stats["loss_ce"] = loss_ce.detach() / denom
        stats["nll"] = nll.detach() / denom
        stats["loss_quantity"] = loss_qua.detach() / denom
        stats.update(self._accuracy(out, text, text_lengths))
        stats["loss"] = loss.detach()
        return loss, {k: float(v) for k, v in stats.items()}, ntokens

    def _teacher(
        self,
        batch: Mapping[str, torch.Tensor],
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        device: torch.device,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The teacher features (B, N + 1, Dt) and lengths (B,) the distillers need: dumped ones
        from the batch, else the online teacher's on the transcripts."""
        key = self.teacher_key
        if key in batch and f"{key}_lengths" in batch:
            return batch[key], batch[f"{key}_lengths"]
        if self.online_teacher is None or self.text_of is None:
            raise KeyError(
                f"the distillers ({', '.join(self.distillers)}) need teacher features under the "
                f"batch key '{key}' (and '{key}_lengths'): give the trainer the dumped teacher "
                f"scp (asr.sh stage 8, --train_extra_scp {key}=...) or configure online_teacher"
            )
        texts = [
            self.text_of(row[: int(n)]) for row, n in zip(text.tolist(), text_lengths.tolist())
        ]
        feats, lengths = self.online_teacher.to(device)(texts)
        return feats.to(device), lengths.to(device)

    @staticmethod
    def _alpha_sums(out: CifModelOutputs) -> torch.Tensor:
        return out.alphas.float().sum(-1)

    @torch.no_grad()
    def _accuracy(
        self, out: CifModelOutputs, text: torch.Tensor, text_lengths: torch.Tensor
    ) -> dict[str, float]:
        """Teacher-forced token accuracy and, in eval mode, the teacher-forced greedy CER
        (argmax of the decoder over the CIF positions against the full reference)."""
        if out.decoder_logits is None:
            return {"acc": 0.0}
        pred = out.decoder_logits.argmax(-1)
        valid = out.target != self.ignore_id
        acc = ((pred == out.target) & valid).sum().float() / valid.sum().clamp(min=1)
        stats = {"acc": float(acc)}
        if not self.training and self.report_cer:
            errors, chars = 0, 0
            drop = {self.blank_id, self.sos_eos}
            cif_lengths = out.cif_lengths.tolist()
            for b, (hyp_row, ref_row) in enumerate(zip(pred.tolist(), text.tolist())):
                hyp = [t for t in hyp_row[: cif_lengths[b]] if t not in drop]
                ref = ref_row[: int(text_lengths[b])]
                errors += edit_distance(hyp, ref)
                chars += len(ref)
            stats["cer_tf"] = errors / max(chars, 1)
        return stats
