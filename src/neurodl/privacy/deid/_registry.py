"""The format handlers, in the order they are asked whether they read a file."""

from __future__ import annotations

from neurodl.privacy.deid._core import Handler

__all__ = ["handlers"]


def handlers() -> list[Handler]:
    """One instance of every format handler (first match wins)."""
    from neurodl.privacy.deid.bids import JsonHandler, TsvHandler
    from neurodl.privacy.deid.brainvision import BrainVisionHandler
    from neurodl.privacy.deid.edf import BdfHandler, EdfHandler
    from neurodl.privacy.deid.fif import FifHandler
    from neurodl.privacy.deid.mat import MatHandler
    from neurodl.privacy.deid.nifti import NiftiHandler
    from neurodl.privacy.deid.nwb import NwbHandler

    found: list[Handler] = [EdfHandler(), BdfHandler(), JsonHandler(), TsvHandler()]
    found += [NiftiHandler()]
    found += [FifHandler(), BrainVisionHandler(), NwbHandler()]
    found += [MatHandler()]
    return found
