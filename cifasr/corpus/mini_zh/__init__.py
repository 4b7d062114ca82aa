"""mini_zh: a small Mandarin corpus synthesised on the machine with espeak-ng.

Its sentences come from real Chinese text fetched from registry packages (``news.py``,
``--text_source news``, the main job's) or from a seeded grammar (``grammar.py``,
``--text_source template``, the toy CI size, no download). The recipe's
``egs2/mini_zh/asr1/local/data.sh`` calls ``python -m cifasr.corpus.mini_zh``;
``prepare_mini_zh`` is the same thing as a function.
"""

from cifasr.corpus.mini_zh.prepare import prepare_mini_zh

__all__ = ["prepare_mini_zh"]
