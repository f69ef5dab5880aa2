"""A network's layers against human and monkey IT: RSA on the 92 images of Kriegeskorte.

The bundled ``rsa_92images`` dataset holds the human IT RDMs of 4 subjects x 2
sessions (Kriegeskorte et al. 2008), the monkey IT RDM (Kiani et al. 2007) and 8x8
grayscale thumbnails of the 92 stimuli (the photographs themselves are not
bundled). A network trained by neurodl - on handwritten digits (8x8, the same input
size) or on the thumbnails' animacy - or an untrained one of the same shape (a
random-feature baseline) is run on the thumbnails; each layer's correlation-distance
RDM is compared (Spearman) with each subject's IT RDM and with monkey IT, against
the noise ceiling of the 4 subjects.

No pretrained weights are downloaded: every network here is trained (or left
random) by neurodl, which the result names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["RSA_MODELS", "LayerRSA", "load_it_rdms", "make_model", "rsa_against_it"]

RSA_MODELS = ("digits", "animacy", "random")
"""Networks :func:`make_model` builds (or a path to a neurodl model file)."""


def load_it_rdms() -> dict[str, Any]:
    """Load the IT RDMs (condensed, 4186 entries each), stimuli and categories.

    Returns a dict with ``human_subjects`` (4, 4186: each subject's two sessions
    averaged), ``human_names``, ``human_it`` (the group RDM of the paper's figure
    1), ``monkey_it``, ``stimuli`` (92, 64 thumbnails in [0, 1]), ``categories``
    (92, 12) and ``category_labels``.
    """
    import scipy.io

    from neurodl.compare.rsa import condensed
    from neurodl.data.registry import dataset_file
    from neurodl.errors import FormatError

    # bundled and checksum-verified (dataset_file), yet read as any file is: a
    # malformed one is a FormatError naming it, whatever scipy raised
    path = dataset_file("rsa_92images", "92_brainRDMs.mat")
    try:
        mat = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)["RDMs"]
    except Exception as exc:
        raise FormatError(
            f"cannot read {str(path)!r} as a MATLAB file with an 'RDMs' variable "
            f"({type(exc).__name__}: {exc}).",
            path=path,
            fmt="MATLAB .mat",
        ) from exc
    subjects = []
    names = []
    for s in range(mat.shape[0]):
        sessions = [
            condensed(np.asarray(mat[s, k].RDM, dtype=np.float64)) for k in (0, 1)
        ]
        subjects.append(np.mean(sessions, axis=0))
        names.append(str(mat[s, 0].name).split("|")[1].strip())
    d = np.load(dataset_file("rsa_92images", "it_rdms_8x8_stimuli.npz"))
    return {
        "human_subjects": np.stack(subjects),
        "human_names": names,
        "human_it": d["human_it"].astype(np.float64),
        "monkey_it": d["monkey_it"].astype(np.float64),
        "stimuli": d["stimuli_8x8"].reshape(92, 64).astype(np.float64),
        "categories": d["category_vectors"].astype(np.int64),
        "category_labels": [str(x) for x in d["category_labels"]],
    }


def make_model(name: str | os.PathLike[str], *, seed: int = 0) -> tuple[Any, str]:
    """Return a network with 64 inputs and a sentence saying how it was made.

    ``"digits"``: neurodl's 64-64-10 digits network, trained here
    (:func:`neurodl.tasks.digits.train_digits`); ``"animacy"``: a 64-64-32-2
    network trained on the 92 thumbnails' animate/inanimate labels; ``"random"``:
    the digits architecture left at its random initialisation (a random-feature
    baseline); or the path of a neurodl model file with 64 inputs.
    """
    import torch

    from neurodl._validate import check_int, check_option
    from neurodl.errors import ValidationError
    from neurodl.networks import FeedForward

    check_int("seed", seed, minimum=0)
    if not isinstance(name, str) or name not in RSA_MODELS:
        from neurodl.networks.io import load

        if not Path(name).is_file():
            raise ValidationError(
                f"'model' must be one of {', '.join(map(repr, RSA_MODELS))} or a "
                f"neurodl model file; got {str(name)!r} (no such file)."
            )

        net = load(name)
        if net.sizes[0] != 64:
            raise ValidationError(
                f"'model' must take 64 inputs (8x8 images); {str(name)!r} takes "
                f"{net.sizes[0]}."
            )
        return net, f"the neurodl model file {str(name)!r}"
    check_option("model", name, RSA_MODELS)
    if name == "digits":
        from neurodl.tasks.digits import train_digits

        r = train_digits()
        return r.network, (
            f"neurodl's 64-64-10 digits network, trained here on scikit-learn's "
            f"8x8 digits (test accuracy {r.test_accuracy:.3f})"
        )
    if name == "random":
        torch.manual_seed(seed)
        net = FeedForward((64, 64, 10), activation="relu", seed=seed)
        return net, "the 64-64-10 architecture at its random initialisation"
    from neurodl.learning import TrainConfig, fit

    data = load_it_rdms()
    x = torch.tensor(data["stimuli"], dtype=torch.float32)
    y = torch.tensor(data["categories"][:, 0], dtype=torch.int64)
    net = FeedForward((64, 64, 32, 2), activation="relu", seed=seed)
    cfg = TrainConfig(loss="cross_entropy", optimizer="adam", lr=3e-3, epochs=300)
    fit(net, x, y, cfg, progress=False)
    with torch.no_grad():
        acc = float((net(x).argmax(1) == y).float().mean())
    return net, (
        "a 64-64-32-2 network trained here on the animacy labels of these same 92 "
        f"thumbnails (training accuracy {acc:.3f}): its top layer holds the "
        "animate/inanimate split by construction"
    )


@dataclass
class LayerRSA:
    """RSA of one network against IT, layer by layer."""

    model: str
    description: str
    layers: list[str]
    human_mean: list[float]
    human_per_subject: list[list[float]]
    monkey: list[float]
    ceiling_lower: float
    ceiling_upper: float
    extra: dict[str, Any] = field(default_factory=dict)
    warnings: dict[str, str] = field(default_factory=dict)
    """Undefined values (NaN) -> why, keyed by their path in :meth:`to_dict`."""

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready values."""
        return {
            "model": self.model,
            "description": self.description,
            "layers": self.layers,
            "human_it_spearman_mean": [round(v, 6) for v in self.human_mean],
            "human_it_spearman_per_subject": [
                [round(v, 6) for v in row] for row in self.human_per_subject
            ],
            "monkey_it_spearman": [round(v, 6) for v in self.monkey],
            "noise_ceiling": [
                round(self.ceiling_lower, 6),
                round(self.ceiling_upper, 6),
            ],
            **self.extra,
            **({"warnings": dict(self.warnings)} if self.warnings else {}),
        }


def rsa_against_it(
    model: str | os.PathLike[str] = "digits", *, seed: int = 0
) -> LayerRSA:
    """Compare every layer of ``model`` (:func:`make_model`) with human and monkey IT.

    Each layer's RDM is the correlation distance between its activations to the 92
    thumbnails (``input`` is the thumbnails themselves); it is compared by
    Spearman correlation with each subject's IT RDM and with monkey IT. The noise
    ceiling is rsatoolbox's leave-one-subject-out (lower, upper) bound of the 4
    subjects: a model cannot be expected to exceed it.
    """
    import torch

    from neurodl.compare import (
        compare_rdms,
        layer_activations,
        list_layers,
        noise_ceiling,
    )
    from neurodl.compare.rsa import condensed, rdm

    data = load_it_rdms()
    net, description = make_model(model, seed=seed)
    layer_names = [
        n for n in list_layers(net) if n.startswith("layers.")
    ] or list_layers(net)
    x = torch.tensor(data["stimuli"], dtype=next(net.parameters()).dtype)
    acts = layer_activations(net, x, layer_names)
    names = ["input", *layer_names]
    patterns = [np.asarray(data["stimuli"])] + [
        np.asarray(acts[n], dtype=np.float64) for n in layer_names
    ]
    n_subjects = len(data["human_subjects"])
    per_subject: list[list[float]] = []
    monkey: list[float] = []
    warnings: dict[str, str] = {}
    for i, (name, pat) in enumerate(zip(names, patterns, strict=True)):
        flat = pat.reshape(len(pat), -1)
        constant = int(np.sum(flat.std(axis=1) == 0))
        if constant:
            # a correlation distance needs a pattern that varies across units
            why = (
                f"layer {name!r} responds with a constant pattern (every unit alike, "
                f"e.g. all ReLUs silent) to {constant} of {len(flat)} images: its "
                "correlation RDM, so its RSA, is undefined"
            )
            per_subject.append([float("nan")] * n_subjects)
            monkey.append(float("nan"))
            for key in ("human_it_spearman_mean", "monkey_it_spearman"):
                warnings[f"{key}[{i}]"] = why
            for s in range(n_subjects):
                warnings[f"human_it_spearman_per_subject[{i}][{s}]"] = why
            continue
        r = condensed(rdm(pat, "correlation"))
        per_subject.append(
            [float(compare_rdms(r, s, "spearman")) for s in data["human_subjects"]]
        )
        monkey.append(float(compare_rdms(r, data["monkey_it"], "spearman")))
    lower, upper = noise_ceiling(data["human_subjects"], "spearman")
    return LayerRSA(
        model=str(model),
        description=description,
        layers=names,
        human_mean=[float(np.mean(p)) for p in per_subject],
        human_per_subject=per_subject,
        monkey=monkey,
        ceiling_lower=float(lower),
        ceiling_upper=float(upper),
        extra={"subjects": data["human_names"]},
        warnings=warnings,
    )
