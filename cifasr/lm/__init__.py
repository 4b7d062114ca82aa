"""Token language models for shallow fusion (``lm: transformer`` + ``lm_conf: {...}``)."""

from cifasr.lm.transformer_lm import TransformerLM, TransformerLMState

LM_CLASSES = {"transformer": TransformerLM}

__all__ = ["LM_CLASSES", "TransformerLM", "TransformerLMState"]
