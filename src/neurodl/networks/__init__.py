"""Networks: feed-forward networks (weighted, biased directed graphs), also spiking."""

from neurodl.networks.feedforward import INITS as INITS
from neurodl.networks.feedforward import Dense as Dense
from neurodl.networks.feedforward import FeedForward as FeedForward
from neurodl.networks.feedforward import Trace as Trace
from neurodl.networks.losses import LOSSES as LOSSES
from neurodl.networks.losses import Loss as Loss
from neurodl.networks.losses import get_loss as get_loss
from neurodl.networks.spiking import LIFLayer as LIFLayer
from neurodl.networks.spiking import SpikingFeedForward as SpikingFeedForward
from neurodl.networks.spiking import lif_sequence as lif_sequence

__all__ = [
    "INITS",
    "LOSSES",
    "Dense",
    "FeedForward",
    "LIFLayer",
    "Loss",
    "SpikingFeedForward",
    "Trace",
    "get_loss",
    "lif_sequence",
]
