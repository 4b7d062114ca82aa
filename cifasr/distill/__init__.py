"""Hierarchical distillation (HieraDist): PLM teacher features, ACD and LRD.

``DISTILLER_CLASSES`` is the registry the model's config chooses from
(``distillers: {acd: {...}, lrd: {...}}``); each class takes its input size positionally and
plain keyword arguments with defaults. The PLM side (:mod:`cifasr.distill.plm`,
:mod:`cifasr.distill.teacher`) imports transformers and is not imported here.
"""

from cifasr.distill.acd import AcousticContrastiveDistiller
from cifasr.distill.lrd import LinguisticRegressionDistiller

DISTILLER_CLASSES = {
    "acd": AcousticContrastiveDistiller,
    "lrd": LinguisticRegressionDistiller,
}

__all__ = ["DISTILLER_CLASSES", "AcousticContrastiveDistiller", "LinguisticRegressionDistiller"]
