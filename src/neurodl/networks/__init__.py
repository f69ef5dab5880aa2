"""Networks: feed-forward networks as weighted, biased directed graphs."""

from neurodl.networks.feedforward import INITS as INITS
from neurodl.networks.feedforward import Dense as Dense
from neurodl.networks.feedforward import FeedForward as FeedForward
from neurodl.networks.feedforward import Trace as Trace
from neurodl.networks.losses import LOSSES as LOSSES
from neurodl.networks.losses import Loss as Loss
from neurodl.networks.losses import get_loss as get_loss

__all__ = ["INITS", "LOSSES", "Dense", "FeedForward", "Loss", "Trace", "get_loss"]
