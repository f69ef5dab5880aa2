"""Data: small bundled datasets (recordings follow with their provenance)."""

from neurodl.data.datasets import Split as Split
from neurodl.data.datasets import load_digits as load_digits
from neurodl.data.datasets import xor as xor

__all__ = ["Split", "load_digits", "xor"]
