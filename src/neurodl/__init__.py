"""neurodl: where artificial and biological neural networks meet."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("neurodl")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
