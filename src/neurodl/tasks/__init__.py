"""Tasks: the worked examples that the CLI and the tour run (XOR, digits)."""

from neurodl.tasks.digits import DigitsConfig as DigitsConfig
from neurodl.tasks.digits import DigitsResult as DigitsResult
from neurodl.tasks.digits import train_digits as train_digits
from neurodl.tasks.xor import XorConfig as XorConfig
from neurodl.tasks.xor import XorResult as XorResult
from neurodl.tasks.xor import attempt_seed as attempt_seed
from neurodl.tasks.xor import solve_xor as solve_xor
from neurodl.tasks.xor import sweep_xor as sweep_xor

__all__ = [
    "DigitsConfig",
    "DigitsResult",
    "XorConfig",
    "XorResult",
    "attempt_seed",
    "solve_xor",
    "sweep_xor",
    "train_digits",
]
