"""cifasr: CIF-based speech recognition with hierarchical distillation (HieraDist)."""

from cifasr.version import __version__

__all__ = ["__version__"]
