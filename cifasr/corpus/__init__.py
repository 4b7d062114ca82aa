"""Corpus preparation: turn a source (downloaded or synthesised) into Kaldi-style data dirs.

- ``cifasr.corpus.mini_zh``: a small Mandarin corpus synthesised on the machine
  (seeded grammar + espeak-ng).
- ``cifasr.corpus.espeak``: the espeak-ng command-line wrapper.
- ``cifasr.corpus.audio``: band-limited resampling and seeded additive noise (numpy only).
"""
