"""The torch modules of :mod:`neurodl.decode.convnet`: the shallow ConvNet and EEGNet.

* :class:`ShallowConvNet`, Schirrmeister et al. (2017), Hum Brain Mapp
  38:5391-5420, doi:10.1002/hbm.23730;
* :class:`EEGNet`, after Lawhern et al. (2018), J Neural Eng 15:056013,
  doi:10.1088/1741-2552/aace8c.

Both end in a convolutional classifier, so a longer input gives one prediction per
time window (dense predictions, for cropped decoding).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["EEGNet", "ShallowConvNet"]

_EPS = 1e-6


# --------------------------------------------------------------------- modules
class _Square(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * x


class _SafeLog(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(torch.clamp(x, min=_EPS))


def _same_pad(kernel: int) -> nn.Module:
    """Zero-pad time so that a convolution of length ``kernel`` keeps the length."""
    left = (kernel - 1) // 2
    return nn.ZeroPad2d((left, kernel - 1 - left, 0, 0))


class ShallowConvNet(nn.Module):
    """Shallow ConvNet: temporal conv, spatial conv, square, mean, log, classifier.

    Maps ``(batch, n_channels, n_times)`` to per-window logits of shape
    ``(batch, n_classes, n_windows)`` with ``n_windows = (n_times - temporal_kernel
    + 1 - pool_length) // pool_stride + 1``; each window sees
    :attr:`receptive_field` consecutive samples.

    Parameters
    ----------
    n_channels, n_classes : int
        Input channels and output classes.
    n_temporal : int
        Temporal filters (shared by all channels).
    temporal_kernel : int
        Length of the temporal filters, in samples.
    n_spatial : int
        Spatial filters, each combining every (temporal filter, channel) pair.
    pool_length, pool_stride : int
        Average pooling of the squared signal over time: the power is averaged over
        ``pool_length`` samples every ``pool_stride`` samples.
    dropout : float
        Dropout probability on the log-power features.
    """

    def __init__(
        self,
        n_channels: int,
        n_classes: int,
        n_temporal: int = 4,
        temporal_kernel: int = 13,
        n_spatial: int = 8,
        pool_length: int = 120,
        pool_stride: int = 10,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.conv_time = nn.Conv2d(1, n_temporal, (1, temporal_kernel), bias=False)
        self.conv_spat = nn.Conv2d(n_temporal, n_spatial, (n_channels, 1), bias=False)
        self.bnorm = nn.BatchNorm2d(n_spatial)
        self.square = _Square()
        self.pool = nn.AvgPool2d((1, pool_length), stride=(1, pool_stride))
        self.log = _SafeLog()
        self.drop = nn.Dropout(dropout)
        self.classifier = nn.Conv2d(n_spatial, n_classes, (1, 1))
        self.receptive_field = temporal_kernel + pool_length - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return per-window logits ``(batch, n_classes, n_windows)``."""
        h = self.conv_spat(self.conv_time(x.unsqueeze(1)))
        h = self.log(self.pool(self.square(self.bnorm(h))))
        return self.classifier(self.drop(h)).squeeze(2)


class EEGNet(nn.Module):
    """EEGNet-style compact ConvNet with a convolutional (dense) classifier.

    Temporal conv (``f1`` filters, "same" padding) and batch norm; depthwise
    spatial conv (``depth`` filters per temporal filter), batch norm, ELU, average
    pooling by ``pool1`` and dropout; separable conv (depthwise temporal kernel
    ``sep_kernel`` then pointwise to ``f2`` maps), batch norm, ELU, average pooling
    by ``pool2`` and dropout; a classifier convolution over ``head_length`` pooled
    samples. Maps ``(batch, n_channels, n_times)`` to ``(batch, n_classes,
    n_windows)``.

    Parameters
    ----------
    n_channels, n_classes : int
        Input channels and output classes.
    f1, depth, f2 : int
        Temporal filters, spatial filters per temporal filter, separable maps.
    kernel_length, sep_kernel : int
        Temporal and separable kernel lengths, in samples.
    pool1, pool2 : int
        Average pooling factors.
    head_length : int
        Classifier kernel length, in samples after both poolings.
    dropout : float
        Dropout probability.
    """

    def __init__(
        self,
        n_channels: int,
        n_classes: int,
        f1: int = 8,
        depth: int = 2,
        f2: int = 16,
        kernel_length: int = 64,
        sep_kernel: int = 16,
        pool1: int = 4,
        pool2: int = 8,
        head_length: int = 4,
        dropout: float = 0.25,
    ) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _same_pad(kernel_length),
            nn.Conv2d(1, f1, (1, kernel_length), bias=False),
            nn.BatchNorm2d(f1),
            nn.Conv2d(f1, f1 * depth, (n_channels, 1), groups=f1, bias=False),
            nn.BatchNorm2d(f1 * depth),
            nn.ELU(),
            nn.AvgPool2d((1, pool1)),
            nn.Dropout(dropout),
            _same_pad(sep_kernel),
            nn.Conv2d(
                f1 * depth, f1 * depth, (1, sep_kernel), groups=f1 * depth, bias=False
            ),
            nn.Conv2d(f1 * depth, f2, (1, 1), bias=False),
            nn.BatchNorm2d(f2),
            nn.ELU(),
            nn.AvgPool2d((1, pool2)),
            nn.Dropout(dropout),
        )
        self.classifier = nn.Conv2d(f2, n_classes, (1, head_length))
        self.receptive_field = pool1 * pool2 * head_length

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return per-window logits ``(batch, n_classes, n_windows)``."""
        return self.classifier(self.features(x.unsqueeze(1))).squeeze(2)
