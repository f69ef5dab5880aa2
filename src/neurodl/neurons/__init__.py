"""Neurons: activation functions of artificial neurons (biological models follow)."""

from neurodl.neurons.activations import ACTIVATIONS as ACTIVATIONS
from neurodl.neurons.activations import OUTPUT_ACTIVATIONS as OUTPUT_ACTIVATIONS
from neurodl.neurons.activations import Activation as Activation
from neurodl.neurons.activations import get_activation as get_activation

__all__ = ["ACTIVATIONS", "OUTPUT_ACTIVATIONS", "Activation", "get_activation"]
