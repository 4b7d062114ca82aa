"""Loop-free continuous integrate-and-fire (CIF) with the semantics of the original loop.

The original (docs/cif.md §1) walks over the frames, accumulating weight until it reaches the
threshold beta, then fires a token that consumes exactly 1.0 of weight. With prefix sums
``P_t = a_1 + ... + a_t`` that loop has a closed form (docs/cif.md §2):

* fires up to frame t: ``n_t = floor(P_t + 1 - beta)``;
* token j (1-based) has received ``F_j(t) = 0`` if ``n_t < j - 1``, ``P_t - (j - 1)`` if
  ``n_t == j - 1`` and ``1`` if ``n_t >= j``; its vector is ``sum_t (F_j(t) - F_j(t-1)) h_t``.

So frame t gives weight to token ``n_{t-1}`` (0-based: the one that was accumulating), to every
token it fires, and to token ``n_t`` (the next one, with the leftover). The weights come from
float64 prefix sums; the weighted sums of frames are one ``embedding_bag`` (a sparse slot-by-frame
matrix times the frames): no loop over time, O(B*T*C) work, no dense (B, N, T) matrix. A frame
that carries weight for two fires emits both (the original loop fires once and carries the
excess on); otherwise the result equals the loop.
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import torch
import torch.nn.functional as F

# Added to the leftover weight before normalising a tail token, as in the original.
TAIL_EPS = 1e-10


class CifOutput(NamedTuple):
    """What :func:`cif` returns.

    Attributes:
        embeds: (B, N, C) float32 (float64 for float64 inputs) integrated token vectors, zero
            beyond ``token_lengths``. N = ``token_lengths.max()`` (0 when nothing fired).
        token_lengths: (B,) int64 number of tokens per utterance (including a tail token).
        fire_frames: (B, N) int64 frame index at which each token fired, -1 on padding.
    """

    embeds: torch.Tensor
    token_lengths: torch.Tensor
    fire_frames: torch.Tensor


class _FirePlan(NamedTuple):
    """Every (token slot, frame, weight) entry of the integration, in one order that is sorted
    both by frame and by slot (per frame: the accumulating token, tokens fired in between, the
    token started by the leftover). So the same arrays describe the slot-by-frame weight matrix
    as bags of frames per slot (forward) and as bags of slots per frame (backward).

    Flat slot index = ``b * num_slots + token``. The last slot of every utterance is a discard
    slot: the partial token that never fires and all padded frames go there and are sliced off,
    so they can neither appear in the output nor receive gradient.
    """

    entry_frames: torch.Tensor  # (E,) flat frame index b * T + t
    entry_slots: torch.Tensor  # (E,) flat slot index, non-decreasing
    entry_weights: torch.Tensor  # (E,) weight of the frame for the slot
    slot_offsets: torch.Tensor  # (B * num_slots + 1,) first entry of each slot
    frame_offsets: torch.Tensor  # (B * T + 1,) first entry of each frame
    fired: torch.Tensor  # (B, T) bool, the frame fires at least one token
    valid: torch.Tensor  # (B, T) bool, frame index < length


class _Counts(NamedTuple):
    """Token counts from the fire decisions."""

    fires: torch.Tensor  # (B, T) int64 fires up to and including frame t
    n_fired: torch.Tensor  # (B,) regular fires
    tail: torch.Tensor | None  # (B,) bool, a tail token is emitted (None: no tail handling)
    token_lengths: torch.Tensor  # (B,) n_fired + tail
    num_tokens: int  # N = max token_lengths
    any_tail: bool


class _Integrate(torch.autograd.Function):
    """Weighted sums of frames into token slots, with a hand-written backward.

    Forward is one ``embedding_bag`` (bags of frames per slot, per-entry weights): a single pass
    over the frames, no (B*T, C) temporary. Backward is one ``embedding_bag`` for the frame
    gradient (bags of slots per frame) and one sampled matmul for the entry-weight gradient,
    which a float64 reverse cumsum turns into the alpha gradient.
    """

    @staticmethod
    def forward(ctx, hidden, alphas, plan: _FirePlan):  # type: ignore[override]
        bsz, tlen, dim = hidden.shape
        out = F.embedding_bag(
            plan.entry_frames,
            hidden.reshape(bsz * tlen, dim),
            plan.slot_offsets,
            mode="sum",
            per_sample_weights=plan.entry_weights,
            include_last_offset=True,
        )
        ctx.save_for_backward(hidden, *plan)
        return out.view(bsz, -1, dim)

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        hidden, *fields = ctx.saved_tensors
        plan = _FirePlan(*fields)
        bsz, tlen, dim = hidden.shape
        g = grad_out.reshape(-1, dim)
        grad_hidden = grad_alphas = None
        if ctx.needs_input_grad[0]:
            grad_h = F.embedding_bag(
                plan.entry_slots,
                g,
                plan.frame_offsets,
                mode="sum",
                per_sample_weights=plan.entry_weights,
                include_last_offset=True,
            )
            grad_hidden = grad_h.view(bsz, tlen, dim)
        if ctx.needs_input_grad[1]:
            gw = _entry_weight_grad(g, hidden.reshape(bsz * tlen, dim), plan)
            grad_alphas = _alpha_grad(gw, plan).to(hidden.dtype)
        return grad_hidden, grad_alphas, None


def _entry_weight_grad(g: torch.Tensor, h: torch.Tensor, plan: _FirePlan) -> torch.Tensor:
    """(E,) ``<g[slot_e], h[frame_e]>``: the gradient of every entry weight.

    On CPU and CUDA a sampled matmul over the CSR pattern of the slot-by-frame matrix (one pass
    over h); elsewhere two gathers and a row-wise dot product.
    """
    if g.device.type not in ("cpu", "cuda"):
        return torch.linalg.vecdot(
            g.index_select(0, plan.entry_slots), h.index_select(0, plan.entry_frames)
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        pattern = torch.sparse_csr_tensor(
            plan.slot_offsets,
            plan.entry_frames,
            plan.entry_weights,
            (g.size(0), h.size(0)),
            check_invariants=False,
        )
        return torch.sparse.sampled_addmm(pattern, g, h.t(), beta=0.0).values()


def _alpha_grad(gw: torch.Tensor, plan: _FirePlan) -> torch.Tensor:
    """(B, T) float64 gradient w.r.t. alphas from the (E,) entry-weight gradients.

    A frame that does not fire gives its token ``a_t`` (first entry = last entry). A frame that
    fires gives ``(n_{t-1} + 1) - P_{t-1}`` to the finishing token (first entry) and
    ``P_t - n_t`` to the next one (last entry); with ``dP_t/da_s = 1`` for ``s <= t`` this sums
    to ``revcumsum(fired * (g_last - g_first)) + valid * g_first``. The fire decisions are
    piecewise constant and carry no gradient. ``where`` (not a product) masks, so non-finite
    values in padded frames cannot leak in.
    """
    bsz, tlen = plan.fired.shape
    g_first = gw.index_select(0, plan.frame_offsets[:-1]).view(bsz, tlen)
    g_last = gw.index_select(0, plan.frame_offsets[1:] - 1).view(bsz, tlen)
    through_prefix = torch.where(plan.fired, g_last - g_first, 0.0)
    cum = torch.cumsum(through_prefix, -1, dtype=torch.float64)
    grad = (cum[:, -1:] - cum).add_(through_prefix)
    return grad.add_(torch.where(plan.valid, g_first, 0.0))


def cif(
    hidden: torch.Tensor,
    alphas: torch.Tensor,
    lengths: torch.Tensor,
    threshold: float = 0.99,
    tail_threshold: float | None = None,
) -> CifOutput:
    """Integrate frames into tokens and fire, in closed form (no loop over frames).

    Runs in float32 (float64 for float64 inputs) with autocast disabled; prefix sums in float64,
    so fire decisions stay exact for long inputs.

    Args:
        hidden: (B, T, C) frames to integrate. Padded frames (index >= ``lengths``) are never
            read into the output and get zero gradient, whatever they hold.
        alphas: (B, T) non-negative weights, already scaled to the target length in training.
            Weights of padded frames are ignored (treated as 0) and get zero gradient.
        lengths: (B,) int number of valid frames per utterance, each in [0, T].
        threshold: beta in (0, 1]: a token fires once its accumulated weight reaches beta and
            consumes exactly 1.0 (the leftover may be slightly negative). 1.0 gives the plain
            interval-overlap CIF.
        tail_threshold: None (training) or tau >= 0 (inference): after the last valid frame, if
            the leftover weight exceeds tau, emit ``acc_s / (acc_w + 1e-10)`` (the normalised
            partial token) as one more token, fired at frame ``lengths - 1``.

    Returns:
        :class:`CifOutput` with embeds (B, N, C), token_lengths (B,) and fire_frames (B, N).

    Raises:
        ValueError: on mismatched shapes, a threshold outside (0, 1], a negative tail threshold,
            lengths outside [0, T], or negative, infinite or NaN weights on valid frames.
    """
    _check_args(hidden, alphas, lengths, threshold, tail_threshold)
    dtype = torch.float64 if torch.float64 in (hidden.dtype, alphas.dtype) else torch.float32
    bsz, tlen, dim = hidden.shape
    # Half-precision prefix sums move fire decisions (docs/cif.md §2.7): never autocast here.
    with torch.autocast(device_type=hidden.device.type, enabled=False):
        hidden = hidden.to(dtype)
        alphas = alphas.to(dtype)
        lengths = lengths.to(device=hidden.device, dtype=torch.long)
        if tlen == 0 or bsz == 0:
            if bool((lengths != 0).any()):
                raise ValueError(f"cif(): lengths must be in [0, T={tlen}], got {lengths.tolist()}")
            empty = torch.zeros(bsz, dtype=torch.long, device=hidden.device)
            return CifOutput(hidden[:, :0], empty, empty.new_empty(bsz, 0))
        valid = torch.arange(tlen, device=hidden.device) < lengths[:, None]
        counts, plan = _plan(alphas, lengths, valid, threshold, tail_threshold)
        num_tokens = counts.num_tokens
        embeds = _Integrate.apply(hidden, alphas, plan)[:, :num_tokens]
        if counts.any_tail:
            embeds = _normalise_tail(embeds, alphas, valid, counts)
        fire_frames = _fire_frames(counts, lengths)
    return CifOutput(embeds, counts.token_lengths, fire_frames)


def _check_args(
    hidden: torch.Tensor,
    alphas: torch.Tensor,
    lengths: torch.Tensor,
    threshold: float,
    tail_threshold: float | None,
) -> None:
    if hidden.dim() != 3:
        raise ValueError(f"cif(): hidden must be (B, T, C), got shape {tuple(hidden.shape)}")
    if alphas.shape != hidden.shape[:2]:
        raise ValueError(
            f"cif(): alphas must be (B, T) = {tuple(hidden.shape[:2])} like hidden, "
            f"got {tuple(alphas.shape)}"
        )
    if lengths.shape != hidden.shape[:1]:
        raise ValueError(
            f"cif(): lengths must be (B,) = ({hidden.shape[0]},), got {tuple(lengths.shape)}"
        )
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"cif(): threshold must be in (0, 1] (original 0.99), got {threshold}")
    if tail_threshold is not None and tail_threshold < 0.0:
        raise ValueError(
            f"cif(): tail_threshold must be None or >= 0 (original 0.4/0.5), got {tail_threshold}"
        )


def _plan(
    alphas: torch.Tensor,
    lengths: torch.Tensor,
    valid: torch.Tensor,
    threshold: float,
    tail_threshold: float | None,
) -> tuple[_Counts, _FirePlan]:
    """Fire decisions and frame weights from float64 prefix sums (no gradient)."""
    bsz, tlen = alphas.shape
    a = torch.where(valid, alphas.detach(), 0.0)
    prefix = torch.cumsum(a, -1, dtype=torch.float64)
    # Truncation is floor here: prefix >= 0 (negative weights are refused below).
    fires = (prefix + (1.0 - threshold)).long()
    fires_before = F.pad(fires[:, :-1], (1, 0))
    fired = fires > fires_before
    total, n_fired = prefix[:, -1], fires[:, -1]
    tail = None if tail_threshold is None else (total - n_fired) > tail_threshold
    token_lengths = n_fired if tail is None else n_fired + tail
    per_frame = fires - fires_before
    # One host sync for every data-dependent check and size (stack promotes to float64, exact
    # for these integers; NaN or inf weights make the total non-finite).
    checks = [
        *torch.aminmax(lengths),
        token_lengths.max(),
        per_frame.max(),
        n_fired.sum(),
        a.min(),
        total.sum(),
    ]
    if tail is not None:
        checks.append(tail.any())
    stats = torch.stack(checks).tolist()
    min_len, max_len, num_tokens, max_fires, total_fires = (int(x) for x in stats[:5])
    min_alpha, sum_total, *any_tail = stats[5:]
    if min_len < 0 or max_len > tlen:
        raise ValueError(f"cif(): lengths must be in [0, T={tlen}], got {lengths.tolist()}")
    if not (min_alpha >= 0 and math.isfinite(sum_total)):
        raise ValueError("cif(): alphas must be >= 0, finite and not NaN on valid frames")
    any_tail = bool(any_tail) and bool(any_tail[0])
    counts = _Counts(fires, n_fired, tail, token_lengths, num_tokens, any_tail)
    return counts, _entries(
        a, prefix, fires_before, per_frame, fired, valid, counts, max_fires, total_fires
    )


def _entries(
    a: torch.Tensor,
    prefix: torch.Tensor,
    fires_before: torch.Tensor,
    per_frame: torch.Tensor,
    fired: torch.Tensor,
    valid: torch.Tensor,
    counts: _Counts,
    max_fires: int,
    total_fires: int,
) -> _FirePlan:
    """Lay out the integration entries, frame by frame (see :class:`_FirePlan`)."""
    bsz, tlen = a.shape
    device = a.device
    num_tokens = counts.num_tokens
    num_slots = num_tokens + 1
    offset = torch.arange(0, bsz * num_slots, num_slots, device=device)[:, None]
    kept = counts.token_lengths[:, None]
    # The partial token is only kept when it becomes the tail token; padded frames never count.
    slot_first = torch.where(valid & (fires_before < kept), fires_before, num_tokens).add_(offset)
    prev_prefix = F.pad(prefix[:, :-1], (1, 0))
    w_first = torch.where(fired, (fires_before + 1) - prev_prefix, a)

    fires = counts.fires
    per_frame = per_frame.view(-1)
    frame_offsets = F.pad(torch.cumsum(per_frame + 1, 0), (1, 0))
    pos_first, pos_last = frame_offsets[:-1], frame_offsets[1:] - 1
    slot_last = torch.where(fires < kept, fires, num_tokens).add_(offset)
    w_last = prefix - fires

    # Every frame writes its last entry, then its first: for a frame that does not fire the two
    # are the same entry and the first wins. scatter_ is several times faster than indexing here.
    frames = torch.arange(bsz * tlen, device=device)
    num_entries = bsz * tlen + total_fires
    entry_frames = torch.empty(num_entries, dtype=torch.long, device=device)
    entry_frames.scatter_(0, pos_last, frames).scatter_(0, pos_first, frames)
    entry_slots = torch.empty_like(entry_frames).scatter_(0, pos_last, slot_last.view(-1))
    entry_slots.scatter_(0, pos_first, slot_first.view(-1))
    entry_weights = torch.ones(num_entries, dtype=a.dtype, device=device)
    entry_weights.scatter_(0, pos_last, w_last.view(-1).to(a.dtype))
    entry_weights.scatter_(0, pos_first, w_first.view(-1).to(a.dtype))
    if max_fires > 1:
        first_slot = (fires_before + offset).view(-1)
        _add_multi_fires(entry_frames, entry_slots, per_frame, pos_first, first_slot, max_fires)
    slot_offsets = torch.searchsorted(entry_slots, torch.arange(bsz * num_slots + 1, device=device))
    return _FirePlan(
        entry_frames,
        entry_slots,
        entry_weights,
        slot_offsets,
        frame_offsets,
        fired,
        valid,
    )


def _add_multi_fires(
    entry_frames: torch.Tensor,
    entry_slots: torch.Tensor,
    per_frame: torch.Tensor,
    pos_first: torch.Tensor,
    first_slot: torch.Tensor,
    max_fires: int,
) -> None:
    """A frame firing k >= 2 tokens gives weight 1 (the entry default) to the k-1 tokens between
    its first and its last entry. Loops over the largest number of fires in one frame (small),
    never over time."""
    for m in range(1, max_fires):
        rows = (per_frame > m).nonzero().squeeze(1)
        pos = pos_first.index_select(0, rows) + m
        entry_frames.scatter_(0, pos, rows)
        entry_slots.scatter_(0, pos, first_slot.index_select(0, rows) + m)


def _normalise_tail(
    embeds: torch.Tensor, alphas: torch.Tensor, valid: torch.Tensor, counts: _Counts
) -> torch.Tensor:
    """Divide each tail token by its weight (a weighted mean, as in the original).

    The leftover weight is recomputed with autograd so that gradients reach the alphas.
    """
    total = torch.where(valid, alphas, 0.0).sum(-1, dtype=torch.float64)
    inv_weight = (1.0 / (total - counts.n_fired + TAIL_EPS)).to(embeds.dtype)
    token = torch.arange(embeds.size(1), device=embeds.device)
    is_tail = (token == counts.n_fired[:, None]) & counts.tail[:, None]
    factor = torch.where(is_tail, inv_weight[:, None], 1.0)
    return embeds * factor.unsqueeze(-1)


def _fire_frames(counts: _Counts, lengths: torch.Tensor) -> torch.Tensor:
    """(B, N) frame at which each token fired: the first t with fires_t > j; tail at length - 1."""
    bsz, num_tokens = lengths.size(0), counts.num_tokens
    token = torch.arange(num_tokens, device=lengths.device).expand(bsz, num_tokens)
    frames = torch.searchsorted(counts.fires, (token + 1).contiguous())
    frames = torch.where(token < counts.n_fired[:, None], frames, -1)
    if counts.any_tail:
        is_tail = (token == counts.n_fired[:, None]) & counts.tail[:, None]
        frames = torch.where(is_tail, (lengths - 1)[:, None], frames)
    return frames
