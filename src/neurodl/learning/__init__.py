"""Learning: gradient-descent training of networks (explicit or autograd gradients)."""

from neurodl.learning.optimizers import OPTIMIZERS as OPTIMIZERS
from neurodl.learning.optimizers import Adam as Adam
from neurodl.learning.optimizers import GradientDescent as GradientDescent
from neurodl.learning.optimizers import Momentum as Momentum
from neurodl.learning.optimizers import Optimizer as Optimizer
from neurodl.learning.optimizers import make_optimizer as make_optimizer
from neurodl.learning.trainer import ENGINES as ENGINES
from neurodl.learning.trainer import History as History
from neurodl.learning.trainer import TrainConfig as TrainConfig
from neurodl.learning.trainer import accuracy as accuracy
from neurodl.learning.trainer import fit as fit

__all__ = [
    "ENGINES",
    "OPTIMIZERS",
    "Adam",
    "GradientDescent",
    "History",
    "Momentum",
    "Optimizer",
    "TrainConfig",
    "accuracy",
    "fit",
    "make_optimizer",
]
