"""Neurons: artificial activation functions and biological spiking neuron models.

Each biological model has a frozen ``*Params`` dataclass, a ``*State`` named tuple
of tensors, one pure ``*_step`` function that holds its math, and a thin
``nn.Module``. :func:`simulate_neuron` runs one neuron under a constant current.
"""

from neurodl.neurons._common import DEFAULT_SURROGATE as DEFAULT_SURROGATE
from neurodl.neurons._common import RESET_MODES as RESET_MODES
from neurodl.neurons._spiketimes import isi_rate as isi_rate
from neurodl.neurons._spiketimes import spike_times_crossing as spike_times_crossing
from neurodl.neurons.activations import ACTIVATIONS as ACTIVATIONS
from neurodl.neurons.activations import OUTPUT_ACTIVATIONS as OUTPUT_ACTIVATIONS
from neurodl.neurons.activations import Activation as Activation
from neurodl.neurons.activations import get_activation as get_activation
from neurodl.neurons.adex import ADEX_METHODS as ADEX_METHODS
from neurodl.neurons.adex import AdEx as AdEx
from neurodl.neurons.adex import AdExParams as AdExParams
from neurodl.neurons.adex import AdExState as AdExState
from neurodl.neurons.adex import adex_initial_state as adex_initial_state
from neurodl.neurons.adex import adex_step as adex_step
from neurodl.neurons.alif import ALIF as ALIF
from neurodl.neurons.alif import ALIF_METHODS as ALIF_METHODS
from neurodl.neurons.alif import ALIFParams as ALIFParams
from neurodl.neurons.alif import ALIFState as ALIFState
from neurodl.neurons.alif import alif_initial_state as alif_initial_state
from neurodl.neurons.alif import alif_step as alif_step
from neurodl.neurons.hh import HH_METHODS as HH_METHODS
from neurodl.neurons.hh import HHParams as HHParams
from neurodl.neurons.hh import HHState as HHState
from neurodl.neurons.hh import HodgkinHuxley as HodgkinHuxley
from neurodl.neurons.hh import hh_initial_state as hh_initial_state
from neurodl.neurons.hh import hh_rates as hh_rates
from neurodl.neurons.hh import hh_step as hh_step
from neurodl.neurons.izhikevich import IZHIKEVICH_METHODS as IZHIKEVICH_METHODS
from neurodl.neurons.izhikevich import Izhikevich as Izhikevich
from neurodl.neurons.izhikevich import IzhikevichParams as IzhikevichParams
from neurodl.neurons.izhikevich import IzhikevichState as IzhikevichState
from neurodl.neurons.izhikevich import (
    izhikevich_initial_state as izhikevich_initial_state,
)
from neurodl.neurons.izhikevich import izhikevich_step as izhikevich_step
from neurodl.neurons.lif import LIF as LIF
from neurodl.neurons.lif import LIF_METHODS as LIF_METHODS
from neurodl.neurons.lif import LIFParams as LIFParams
from neurodl.neurons.lif import LIFState as LIFState
from neurodl.neurons.lif import lif_initial_state as lif_initial_state
from neurodl.neurons.lif import lif_step as lif_step
from neurodl.neurons.run import BACKENDS as BACKENDS
from neurodl.neurons.run import NEURON_MODELS as NEURON_MODELS
from neurodl.neurons.run import NeuronModel as NeuronModel
from neurodl.neurons.run import NeuronRun as NeuronRun
from neurodl.neurons.run import simulate_neuron as simulate_neuron
from neurodl.neurons.surrogate import SURROGATES as SURROGATES
from neurodl.neurons.surrogate import Surrogate as Surrogate
from neurodl.neurons.surrogate import get_surrogate as get_surrogate
from neurodl.neurons.surrogate import heaviside as heaviside

__all__ = [
    "ACTIVATIONS",
    "ADEX_METHODS",
    "ALIF",
    "ALIF_METHODS",
    "BACKENDS",
    "DEFAULT_SURROGATE",
    "HH_METHODS",
    "IZHIKEVICH_METHODS",
    "LIF",
    "LIF_METHODS",
    "NEURON_MODELS",
    "OUTPUT_ACTIVATIONS",
    "RESET_MODES",
    "SURROGATES",
    "ALIFParams",
    "ALIFState",
    "Activation",
    "AdEx",
    "AdExParams",
    "AdExState",
    "HHParams",
    "HHState",
    "HodgkinHuxley",
    "Izhikevich",
    "IzhikevichParams",
    "IzhikevichState",
    "LIFParams",
    "LIFState",
    "NeuronModel",
    "NeuronRun",
    "Surrogate",
    "adex_initial_state",
    "adex_step",
    "alif_initial_state",
    "alif_step",
    "get_activation",
    "get_surrogate",
    "heaviside",
    "hh_initial_state",
    "hh_rates",
    "hh_step",
    "isi_rate",
    "izhikevich_initial_state",
    "izhikevich_step",
    "lif_initial_state",
    "lif_step",
    "simulate_neuron",
    "spike_times_crossing",
]
