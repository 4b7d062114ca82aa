"""The inference model as the modules that are traced into ONNX graphs.

Each wraps parts of a trained :class:`~cifasr.models.cif_asr.CifASRModel` (eval mode) and computes
exactly what the PyTorch inference path computes, with every size taken from tensors so that the
traced graph keeps dynamic batch, frame and token axes:

* :class:`EncoderCifGraph`: features -> normalisation, encoder, CIF weights, the dense CIF
  (:func:`cifasr.cif.dense.cif_dense`, equal to :func:`cifasr.cif.cif` at inference);
* :class:`CifArInitGraph` and :class:`CifArStepGraph`: the AR decoder's per-utterance CIF parts
  and one decoding step with the self-attention keys/values of the earlier steps as inputs;
* :class:`NarDecoderGraph`: the non-autoregressive decoder in one pass.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cifasr.cif.dense import cif_dense
from cifasr.decoder.cif_ar import CifArDecoder
from cifasr.decoder.nar import NarDecoder
from cifasr.models.cif_asr import CifASRModel


class EncoderCifGraph(nn.Module):
    """Features to encoder and CIF outputs.

    ``forward(feats (B, T, D) float32, feats_lengths (B,) int64, tail_threshold () float64)``
    returns ``encoder_out (B, T', C)``, ``encoder_lengths (B,)``, ``alphas (B, T')`` (unscaled),
    ``cif_embeds (B, N, C)``, ``cif_lengths (B,)`` and ``fire_frames (B, N)``, the fields of
    :class:`~cifasr.interfaces.outputs.CifModelOutputs` that inference uses. ``tail_threshold`` is
    an input so that decoding configs can change it; ``+inf`` means no tail handling.
    """

    input_names = ("feats", "feats_lengths", "tail_threshold")
    output_names = (
        "encoder_out",
        "encoder_lengths",
        "alphas",
        "cif_embeds",
        "cif_lengths",
        "fire_frames",
    )
    dynamic_axes = {
        "feats": {0: "batch", 1: "frames"},
        "feats_lengths": {0: "batch"},
        "encoder_out": {0: "batch", 1: "encoder_frames"},
        "encoder_lengths": {0: "batch"},
        "alphas": {0: "batch", 1: "encoder_frames"},
        "cif_embeds": {0: "batch", 1: "tokens"},
        "cif_lengths": {0: "batch"},
        "fire_frames": {0: "batch", 1: "tokens"},
    }

    def __init__(self, model: CifASRModel) -> None:
        super().__init__()
        self.model = model
        self.eval()

    def forward(
        self, feats: torch.Tensor, feats_lengths: torch.Tensor, tail_threshold: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        enc, enc_lengths = self.model.encode(feats, feats_lengths)
        predictor = self.model.predictor
        hidden, alphas, fire_alphas = predictor.fire_weights(enc, enc_lengths)
        cif = cif_dense(hidden, fire_alphas, enc_lengths, predictor.threshold, tail_threshold)
        return enc, enc_lengths, alphas, cif.embeds, cif.token_lengths, cif.fire_frames


class CifArInitGraph(nn.Module):
    """``cif_embeds (U, S, C) -> input_part (U, S, D), output_part (U, S, D)``, the
    CIF-dependent parts of every step (:meth:`CifArDecoder.cif_parts`)."""

    input_names = ("cif_embeds",)
    output_names = ("input_part", "output_part")
    dynamic_axes = {
        "cif_embeds": {0: "batch", 1: "steps"},
        "input_part": {0: "batch", 1: "steps"},
        "output_part": {0: "batch", 1: "steps"},
    }

    def __init__(self, decoder: CifArDecoder) -> None:
        super().__init__()
        self.decoder = decoder
        self.eval()

    def forward(self, cif_embeds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.decoder.cif_parts(cif_embeds)


class CifArStepGraph(nn.Module):
    """One step of :meth:`CifArDecoder.forward_step` for N hypotheses at step t.

    Inputs: ``prev_token (N,)`` int64; ``cif_in (N, D)`` and ``cif_out (N, D)``, this step's rows
    of the init graph's outputs; ``past_keys`` and ``past_values`` (t, L, N, H, D/H), the
    self-attention keys and values of steps 0 .. t-1 of the L layers (t = 0 at the first step).
    The step axis comes first so that the runtime passes a prefix of one preallocated cache
    without a copy.

    Outputs: ``log_probs (N, V)`` float32 and ``keys``/``values`` (L, N, H, D/H) of this step.
    """

    input_names = ("prev_token", "cif_in", "cif_out", "past_keys", "past_values")
    output_names = ("log_probs", "keys", "values")
    dynamic_axes = {
        "prev_token": {0: "hyps"},
        "cif_in": {0: "hyps"},
        "cif_out": {0: "hyps"},
        "past_keys": {0: "steps", 2: "hyps"},
        "past_values": {0: "steps", 2: "hyps"},
        "log_probs": {0: "hyps"},
        "keys": {1: "hyps"},
        "values": {1: "hyps"},
    }

    def __init__(self, decoder: CifArDecoder) -> None:
        super().__init__()
        self.decoder = decoder
        self.eval()

    def forward(
        self,
        prev_token: torch.Tensor,
        cif_in: torch.Tensor,
        cif_out: torch.Tensor,
        past_keys: torch.Tensor,
        past_values: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        dec = self.decoder
        d = dec.dim
        n = prev_token.size(0)
        x = F.linear(dec.embed_scale * dec.embed(prev_token), dec.input_proj.weight[:, :d]) + cif_in
        keys, values = [], []
        for i, layer in enumerate(dec.transformer.layers):
            attn = layer.self_attn
            q, k, v = attn.in_proj(layer.self_attn_norm(x)).view(n, 3, attn.heads, -1).unbind(1)
            # (t, N, H, dh) -> (N, H, t, dh), then this step's key/value appended.
            all_keys = torch.cat([past_keys[:, i].permute(1, 2, 0, 3), k[:, :, None]], dim=2)
            all_values = torch.cat([past_values[:, i].permute(1, 2, 0, 3), v[:, :, None]], dim=2)
            h = F.scaled_dot_product_attention(q[:, :, None], all_keys, all_values)
            x = x + attn.out_proj(h.reshape(n, d))
            x = x + layer.ffn(layer.ffn_norm(x))
            keys.append(k)
            values.append(v)
        z = dec.transformer.final_norm(x)
        s = F.linear(z, dec.output_proj.weight[:, :d]) + cif_out
        log_probs = torch.log_softmax(dec.vocab_proj(s).float(), dim=-1)
        return log_probs, torch.stack(keys), torch.stack(values)


class NarDecoderGraph(nn.Module):
    """``(cif_embeds (B, S, C), cif_lengths (B,), encoder_out (B, T', C), encoder_lengths (B,))
    -> logits (B, S, V)``: :class:`NarDecoder` in one pass (the encoder inputs are dropped from
    the graph when the decoder does not cross-attend)."""

    input_names = ("cif_embeds", "cif_lengths", "encoder_out", "encoder_lengths")
    output_names = ("logits",)
    dynamic_axes = {
        "cif_embeds": {0: "batch", 1: "steps"},
        "cif_lengths": {0: "batch"},
        "encoder_out": {0: "batch", 1: "encoder_frames"},
        "encoder_lengths": {0: "batch"},
        "logits": {0: "batch", 1: "steps"},
    }

    def __init__(self, decoder: NarDecoder) -> None:
        super().__init__()
        self.decoder = decoder
        self.eval()

    def forward(
        self,
        cif_embeds: torch.Tensor,
        cif_lengths: torch.Tensor,
        encoder_out: torch.Tensor,
        encoder_lengths: torch.Tensor,
    ) -> torch.Tensor:
        return self.decoder(cif_embeds, cif_lengths, None, encoder_out, encoder_lengths).logits
