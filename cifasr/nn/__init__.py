"""Small neural-network building blocks shared by the model parts."""

from cifasr.nn.dropout import Dropout, dropout

__all__ = ["Dropout", "dropout"]
