"""Spiking-network simulation: populations, synapses, connectivity, monitors.

See :class:`Network`. Reference networks (CUBA, COBA of Brette et al. 2007) are in
:mod:`neurodl.simulate.benchmarks`.
"""

from neurodl.simulate.analysis import cv_isi as cv_isi
from neurodl.simulate.analysis import firing_rate as firing_rate
from neurodl.simulate.analysis import population_rate as population_rate
from neurodl.simulate.benchmarks import NetworkRun as NetworkRun
from neurodl.simulate.benchmarks import coba as coba
from neurodl.simulate.benchmarks import compile_kernels as compile_kernels
from neurodl.simulate.benchmarks import cuba as cuba
from neurodl.simulate.benchmarks import run_reference as run_reference
from neurodl.simulate.connectivity import Explicit as Explicit
from neurodl.simulate.connectivity import FixedInDegree as FixedInDegree
from neurodl.simulate.connectivity import FixedProbability as FixedProbability
from neurodl.simulate.connectivity import FixedTotalNumber as FixedTotalNumber
from neurodl.simulate.distributions import Normal as Normal
from neurodl.simulate.groups import ConductanceSynapse as ConductanceSynapse
from neurodl.simulate.groups import CurrentSynapse as CurrentSynapse
from neurodl.simulate.groups import DeltaSynapse as DeltaSynapse
from neurodl.simulate.groups import PoissonInput as PoissonInput
from neurodl.simulate.groups import Population as Population
from neurodl.simulate.groups import Projection as Projection
from neurodl.simulate.groups import SpikeSource as SpikeSource
from neurodl.simulate.monitors import SpikeMonitor as SpikeMonitor
from neurodl.simulate.monitors import StateMonitor as StateMonitor
from neurodl.simulate.network import BACKENDS as BACKENDS
from neurodl.simulate.network import Network as Network
from neurodl.simulate.plasticity import STDP as STDP
from neurodl.simulate.plasticity import AdaptiveThreshold as AdaptiveThreshold
from neurodl.simulate.plasticity import TripletSTDP as TripletSTDP
from neurodl.simulate.stream_monitors import RateMonitor as RateMonitor
from neurodl.simulate.stream_monitors import StatsMonitor as StatsMonitor

__all__ = [
    "BACKENDS",
    "STDP",
    "AdaptiveThreshold",
    "ConductanceSynapse",
    "CurrentSynapse",
    "DeltaSynapse",
    "Explicit",
    "FixedInDegree",
    "FixedProbability",
    "FixedTotalNumber",
    "Network",
    "NetworkRun",
    "Normal",
    "PoissonInput",
    "Population",
    "Projection",
    "RateMonitor",
    "SpikeMonitor",
    "SpikeSource",
    "StateMonitor",
    "StatsMonitor",
    "TripletSTDP",
    "coba",
    "compile_kernels",
    "cuba",
    "cv_isi",
    "firing_rate",
    "population_rate",
    "run_reference",
]
