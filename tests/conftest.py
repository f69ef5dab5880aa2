import os

import torch
from hypothesis import HealthCheck, settings

from tests import _offline

# No test may reach the network: neural data never leaves the machine by accident.
_offline.install()

# Small models: one thread is the fast and reproducible setting (see neurodl._threads).
torch.set_num_threads(1)

settings.register_profile(
    "default",
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", deadline=None, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
