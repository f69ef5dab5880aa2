"""Reference network models as code a user can read and change.

* :mod:`neurodl.models.potjans_diesmann` -- the cortical microcircuit of Potjans &
  Diesmann (2014), at any scale, Poisson or DC background, optional thalamic input.
* :mod:`neurodl.models.brunel` -- Brunel's (2000) sparse network of excitatory and
  inhibitory LIF neurons and the classification of its dynamical regime.

Each module builds a :class:`neurodl.simulate.Network` from the published
parameters (cited in the module), so the model runs on both engine paths and
across processes like any other network.
"""

__all__: list[str] = []  # the models are submodules: import them by name
