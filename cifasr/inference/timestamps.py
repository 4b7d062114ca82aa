"""Token timestamps from CIF fire frames.

A CIF output integrates the encoder frames since the previous fire and is emitted at its own
fire frame, so a token spans from the end of the previous fire's frame (or the start of the
utterance) to the end of its own fire frame. Encoder frame ``f`` ends at input frame
``(f + 1) * subsampling``; input frames are ``frame_shift`` seconds apart.
"""

from __future__ import annotations

from collections.abc import Sequence


def token_timestamps(
    fire_index: Sequence[int],
    fire_frames: Sequence[int],
    num_input_frames: int,
    subsampling: int,
    frame_shift: float = 0.01,
    frame_length: float = 0.025,
) -> list[tuple[float, float]]:
    """(start, end) in seconds of each kept token.

    Args:
        fire_index: for each kept token, its position in the CIF sequence
            (:attr:`cifasr.search.Hypothesis.fire_index`).
        fire_frames: the encoder frame of every CIF position of the utterance (non-decreasing).
        num_input_frames: feature frames of the utterance.
        subsampling: input frames per encoder frame (8 for the original encoder).
        frame_shift: seconds between input frames.
        frame_length: seconds of one analysis window (the utterance lasts
            ``(num_input_frames - 1) * frame_shift + frame_length``).

    Returns:
        Non-decreasing, non-overlapping spans inside ``[0, duration]``.
    """
    duration = max(num_input_frames - 1, 0) * frame_shift + frame_length

    def end_of(position: int) -> float:
        frame = int(fire_frames[position])
        return min((frame + 1) * subsampling * frame_shift, duration)

    spans = []
    for position in fire_index:
        start = end_of(position - 1) if position > 0 else 0.0
        end = max(end_of(position), start)
        spans.append((round(start, 3), round(end, 3)))
    return spans
