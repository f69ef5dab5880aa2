"""Live decoding: LSL streams, online decoders, a simulated device, real BCI mappings.

- :mod:`neurodl.bci.stream`: replay a recording as a Lab Streaming Layer outlet in
  real time; resolve and pull streams; count dropped samples.
- :mod:`neurodl.bci.decoder`: the online decoder (causal band-pass, CSP, LDA),
  trained on recordings and stored without pickle.
- :mod:`neurodl.bci.online`: the runner that decodes sliding windows, drives a
  device and survives stalled or restarted streams; latency.
- :mod:`neurodl.bci.device`: a simulated 2-D cursor and its trajectory log.
- :mod:`neurodl.bci.golub`: the factor-analysis + Kalman velocity mapping of a real
  closed-loop intracortical BCI session (Golub et al. 2018), rebuilt from its file.
"""

from neurodl.bci.decoder import OnlineDecoder as OnlineDecoder
from neurodl.bci.decoder import fit_online_decoder as fit_online_decoder
from neurodl.bci.decoder import load_online_decoder as load_online_decoder
from neurodl.bci.device import Cursor2D as Cursor2D
from neurodl.bci.device import TrajectoryLog as TrajectoryLog
from neurodl.bci.device import read_trajectory as read_trajectory
from neurodl.bci.golub import FAKalmanMapping as FAKalmanMapping
from neurodl.bci.golub import GolubSession as GolubSession
from neurodl.bci.golub import load_golub_session as load_golub_session
from neurodl.bci.golub import reproduce_session as reproduce_session
from neurodl.bci.golub import steady_state_kalman_gain as steady_state_kalman_gain
from neurodl.bci.online import OnlineRunner as OnlineRunner
from neurodl.bci.online import OnlineSummary as OnlineSummary
from neurodl.bci.online import loopback_demo as loopback_demo
from neurodl.bci.online import run_online as run_online
from neurodl.bci.stream import Recording as Recording
from neurodl.bci.stream import StreamNotFoundError as StreamNotFoundError
from neurodl.bci.stream import load_recording as load_recording
from neurodl.bci.stream import replay as replay
from neurodl.bci.stream import resolve_stream as resolve_stream

__all__ = [
    "Cursor2D",
    "FAKalmanMapping",
    "GolubSession",
    "OnlineDecoder",
    "OnlineRunner",
    "OnlineSummary",
    "Recording",
    "StreamNotFoundError",
    "TrajectoryLog",
    "fit_online_decoder",
    "load_golub_session",
    "load_online_decoder",
    "load_recording",
    "loopback_demo",
    "read_trajectory",
    "replay",
    "reproduce_session",
    "resolve_stream",
    "run_online",
    "steady_state_kalman_gain",
]
