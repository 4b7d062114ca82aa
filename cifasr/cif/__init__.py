"""CIF weight predictors, the loop-free continuous integrate-and-fire and the quantity loss."""

from cifasr.cif.cif import CifOutput, cif
from cifasr.cif.loss import quantity_loss
from cifasr.cif.predictor import ConvCifPredictor, ParaformerCifPredictor, PredictorOutput

# Registry for YAML ``predictor: <name>`` + ``predictor_conf: {...}``.
PREDICTOR_CLASSES = {"conv": ConvCifPredictor, "paraformer": ParaformerCifPredictor}

__all__ = [
    "PREDICTOR_CLASSES",
    "CifOutput",
    "ConvCifPredictor",
    "ParaformerCifPredictor",
    "PredictorOutput",
    "cif",
    "quantity_loss",
]
