"""``neurodl train digits|features|eeg``: train networks from the command line.

``digits``: a 64-hidden MLP on scikit-learn's 8x8 digits. ``features``: a
classifier on feature windows with subject labels, optionally private per subject.
``eeg``: a motor-imagery decoder across eegmmidb subjects, private per subject.
"""

from __future__ import annotations

from pathlib import Path

import typer

from neurodl.cli._common import (
    JSON,
    QUIET,
    check_writable,
    cli_errors,
    echo_json,
    show_progress,
)

app = typer.Typer(
    help="Train a network on a bundled dataset or on feature windows.",
    no_args_is_help=True,
)


@app.command()
@cli_errors(checkpoint_dir="--out")
def digits(
    hidden: int = typer.Option(64, help="Hidden units."),
    activation: str = typer.Option("relu", help="Hidden activation."),
    engine: str = typer.Option("explicit", help="Gradients: explicit or autograd."),
    optimizer: str = typer.Option("adam", help="sgd, momentum or adam."),
    lr: float = typer.Option(0.001, help="Learning rate (Adam)."),
    epochs: int = typer.Option(
        100, help="Maximum epochs (early stopping may end sooner)."
    ),
    batch_size: int = typer.Option(32, help="Minibatch size."),
    seed: int = typer.Option(
        0, help="Seed of the split, the initialisation and the order."
    ),
    out: Path = typer.Option(
        Path("runs/digits"), help="Folder for the model and figures."
    ),
    checkpoint_every: int = typer.Option(
        10, help="Write a checkpoint every N epochs into OUT (0: only at the end)."
    ),
    resume: bool = typer.Option(
        False,
        help="Continue from OUT/checkpoint.safetensors (same settings; "
        "--epochs may grow).",
    ),
    as_json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Train on the 8x8 digits, test on a held-out stratified split, save the model."""
    from neurodl.networks.io import save

    check_writable("--out", out, folder=True)
    from neurodl.tasks.digits import DigitsConfig, train_digits
    from neurodl.viz import save_learning_curve

    cfg = DigitsConfig(
        hidden=hidden,
        activation=activation,
        engine=engine,
        optimizer=optimizer,
        lr=lr,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
    )
    r = train_digits(
        cfg,
        checkpoint_dir=out,
        progress=show_progress(quiet),
        checkpoint_every=checkpoint_every,
        resume=resume,
    )
    model = save(r.network, out / "digits.safetensors")
    curve = save_learning_curve(r.history, out / "digits_learning_curve.png", "digits")
    if as_json:
        echo_json(r.to_dict() | {"model": str(model), "learning_curve": str(curve)})
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="confusion matrix (rows: true digit, columns: predicted)")
    table.add_column("")
    for k in range(10):
        table.add_column(str(k), justify="right")
    for k, row in enumerate(r.confusion):
        table.add_row(
            str(k),
            *(f"[bold]{v}[/]" if i == k else str(v) or "" for i, v in enumerate(row)),
        )
    console = Console()
    console.print(table)
    console.print(
        f"test accuracy {100 * r.test_accuracy:.2f}% on {r.n_test} held-out images "
        f"(train {100 * r.train_accuracy:.2f}%, "
        f"validation {100 * r.val_accuracy:.2f}%); "
        f"{r.epochs} epochs, best {r.best_epoch}"
    )
    console.print(f"model: {model}\nlearning curve: {curve}")


def _hidden(text: str) -> tuple[int, ...]:
    """Parse ``--hidden '32,16'`` (empty or 'none': logistic regression)."""
    from neurodl.errors import ValidationError

    if text.strip().lower() in ("", "none"):
        return ()
    try:
        sizes = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise ValidationError(
            "'hidden' must be layer widths separated by commas, such as '32' or "
            f"'64,32' (or 'none'); got {text!r}."
        ) from None
    for i, h in enumerate(sizes):
        if h < 1:
            raise ValidationError(f"'hidden[{i}]' must be >= 1; got {h!r}.")
    return sizes


def _privacy_warnings(caught: list) -> list[str]:
    """Messages of the privacy warnings caught while training."""
    from neurodl.privacy.dp import SampleLevelPrivacyWarning

    return [
        str(w.message)
        for w in caught
        if issubclass(w.category, SampleLevelPrivacyWarning)
    ]


@app.command()
@cli_errors()
def features(
    path: Path = typer.Argument(
        ...,
        help="A .npz holding X (windows x features), y (labels) and subjects "
        "(the subject of each window).",
    ),
    out: Path = typer.Option(..., "--out", help="The model file to write."),
    subjects: Path = typer.Option(
        None,
        "--subjects",
        help="Train only on the subjects listed in this file (one per line); "
        "default: all.",
    ),
    hidden: str = typer.Option(
        "none",
        "--hidden",
        help="Hidden widths, e.g. '32' or '64,32'; none: logistic regression.",
    ),
    activation: str = typer.Option("relu", "--activation", help="Hidden activation."),
    steps: int = typer.Option(400, "--steps", help="Optimizer steps."),
    sample_rate: float = typer.Option(
        0.1, "--sample-rate", help="Chance that a subject (privacy unit) joins a step."
    ),
    lr: float = typer.Option(0.01, "--lr", help="Learning rate."),
    optimizer: str = typer.Option("adam", "--optimizer", help="adam or sgd."),
    dp_epsilon: float = typer.Option(
        None,
        "--dp-epsilon",
        help="Train with differential privacy at this epsilon (default: no DP).",
    ),
    dp_delta: float = typer.Option(
        None,
        "--dp-delta",
        help="DP delta, < 1/number of subjects (default min(1e-5, 0.1/N)).",
    ),
    privacy_unit: str = typer.Option(
        "subject",
        "--privacy-unit",
        help="subject (protects a person) or sample (one window only: warns).",
    ),
    max_grad_norm: float = typer.Option(
        1.0, "--max-grad-norm", help="Clipping norm of one subject's gradient."
    ),
    accountant: str = typer.Option(
        "prv", "--accountant", help="Privacy accountant: prv or rdp (Opacus)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the weights, sampling, noise."),
    as_json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Train a classifier on feature windows, optionally private per subject.

    The model (a FeedForward network with its privacy report and training recipe
    in the safetensors metadata) is what `neurodl info` shows and `neurodl audit
    membership` attacks. Subject labels are never written into it.
    """
    import warnings

    import numpy as np

    from neurodl.cli._features import read_features, read_subject_list
    from neurodl.decode.private import DPClassifier

    check_writable("--out", out)
    X, y, groups = read_features(path, "PATH")
    if subjects is not None:
        keep = np.isin(groups, read_subject_list(subjects, groups, "--subjects"))
        X, y, groups = X[keep], y[keep], groups[keep]
    clf = DPClassifier(
        dp_epsilon=dp_epsilon,
        dp_delta=dp_delta,
        privacy_unit=privacy_unit,
        max_grad_norm=max_grad_norm,
        sample_rate=sample_rate,
        steps=steps,
        hidden=_hidden(hidden),
        activation=activation,
        lr=lr,
        optimizer=optimizer,
        accountant=accountant,
        random_state=seed,
    )
    clf.dp_config()  # every setting checked before the data is touched
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.fit(X, y, groups=groups)
    notes = _privacy_warnings(caught)
    model = clf.save(out)
    privacy = clf.privacy_.to_dict() if clf.privacy_ is not None else None
    res = {
        "model": str(model),
        "n_windows": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        "n_subjects": int(np.unique(groups).size),
        "classes": clf.classes_.tolist(),
        "train_accuracy": float(clf.score(X, y)),
        "privacy": privacy,
        "privacy_warnings": notes,
    }
    for note in notes:
        typer.echo(f"warning: {note}", err=True)
    if as_json:
        echo_json(res)
        return
    guarantee = (
        clf.privacy_.summary()
        if clf.privacy_ is not None
        else "no differential privacy"
    )
    typer.echo(
        f"trained on {res['n_windows']} windows of {res['n_subjects']} subjects, "
        f"{res['n_features']} features, classes {res['classes']}: training accuracy "
        f"{res['train_accuracy']:.4f}\n{guarantee}\nmodel: {model}"
    )


def _subject_list(name: str, text: str) -> list[int]:
    """Parse ``'1-8'``, ``'1,3,5'`` or ``'1-4,7'`` into subject numbers."""
    from neurodl.cli._common import parse_range

    out: list[int] = []
    for part in text.split(","):
        if part.strip():
            out.extend(parse_range(name, part))
    return list(dict.fromkeys(out))


def _bands(text: str) -> list[tuple[float, float]]:
    """Parse ``--bands '8-13,13-30'`` into ``[(8, 13), (13, 30)]``."""
    from neurodl.errors import ValidationError

    out = []
    for part in text.split(","):
        lo, sep, hi = part.partition("-")
        try:
            band = (float(lo), float(hi))
        except ValueError:
            band = None
        if not sep or band is None or not 0 < band[0] < band[1]:
            raise ValidationError(
                "'--bands' must be LOW-HIGH pairs in Hz separated by commas, "
                f"0 < LOW < HIGH, such as '8-13,13-30'; got {text!r}."
            )
        out.append(band)
    return out


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": False}
)
@cli_errors()
def eeg(
    ctx: typer.Context,
    data: Path = typer.Option(
        ...,
        "--data",
        help="Folder of eegmmidb-named recordings (S###R##.edf, or S### subfolders).",
    ),
    out: Path = typer.Option(..., "--out", help="The model file to write."),
    subjects: str = typer.Option(
        "1-8", "--subjects", help="Subjects to use, e.g. '1-8' or '1,3,5-9'."
    ),
    test_subjects: str = typer.Option(
        "",
        "--test-subjects",
        help="Subjects held out for testing (not trained on), e.g. '8'.",
    ),
    runs: list[int] = typer.Option(
        [6, 10, 14], "--runs", help="Runs, e.g. --runs 6 10 14 (one task)."
    ),
    bands: str = typer.Option(
        "8-13,13-20,20-30", "--bands", help="Frequency bands in Hz for log-variance."
    ),
    tmin: float = typer.Option(0.5, "--tmin", help="Epoch start, s after the cue."),
    tmax: float = typer.Option(3.5, "--tmax", help="Epoch end, s after the cue."),
    hidden: str = typer.Option(
        "none", "--hidden", help="Hidden widths, e.g. '32'; none: logistic regression."
    ),
    steps: int = typer.Option(50, "--steps", help="Optimizer steps."),
    sample_rate: float = typer.Option(
        1.0, "--sample-rate", help="Chance that a subject joins a step."
    ),
    lr: float = typer.Option(0.05, "--lr", help="Learning rate."),
    optimizer: str = typer.Option("adam", "--optimizer", help="adam or sgd."),
    dp_epsilon: float = typer.Option(
        None, "--dp-epsilon", help="Train with DP at this epsilon (default: no DP)."
    ),
    dp_delta: float = typer.Option(
        None, "--dp-delta", help="DP delta, < 1/number of training subjects."
    ),
    privacy_unit: str = typer.Option(
        "subject",
        "--privacy-unit",
        help="subject (the subject of each epoch) or sample (one epoch: warns).",
    ),
    max_grad_norm: float = typer.Option(
        1.0, "--max-grad-norm", help="Clipping norm of one subject's gradient."
    ),
    accountant: str = typer.Option("prv", "--accountant", help="prv or rdp."),
    seed: int = typer.Option(0, "--seed", help="Seed of the weights, sampling, noise."),
    as_json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Decode motor imagery across subjects, private per subject (eegmmidb files).

    Features: per-trial log-variance of every channel in each band, z-scored
    within each subject (nothing fitted across subjects); the privacy unit is the
    subject of each epoch. Prints the accuracy on the held-out subjects.
    """
    from neurodl.cli.decode import _runs
    from neurodl.errors import ValidationError
    from neurodl.privacy.dp import check_delta
    from neurodl.tasks.private_eeg import train_eeg_private

    check_writable("--out", out)
    if not Path(data).is_dir():
        raise ValidationError(
            f"'--data' must be a folder of eegmmidb recordings; got {str(data)!r}."
        )
    use = _subject_list("--subjects", subjects)
    test = _subject_list("--test-subjects", test_subjects)
    if not use:
        raise ValidationError("'--subjects' must name at least one subject.")
    run_list = _runs(runs, ctx.args)
    bad = [r for r in run_list if not 1 <= r <= 14]
    if bad:
        raise ValidationError(f"'--runs' must lie in 1-14 (eegmmidb); got {bad}.")
    band_list = _bands(bands)
    if tmax <= tmin:
        raise ValidationError(
            f"'--tmax' must be > '--tmin'; got tmin={tmin!r}, tmax={tmax!r}."
        )
    n_train = len([s for s in use if s not in test])
    if dp_delta is not None and privacy_unit == "subject" and n_train >= 1:
        check_delta(dp_delta, n_train)  # before minutes of loading
    r = train_eeg_private(
        data,
        use,
        test_subjects=test,
        runs=run_list,
        bands=band_list,
        tmin=tmin,
        tmax=tmax,
        dp_epsilon=dp_epsilon,
        dp_delta=dp_delta,
        privacy_unit=privacy_unit,
        max_grad_norm=max_grad_norm,
        sample_rate=sample_rate,
        steps=steps,
        hidden=_hidden(hidden),
        lr=lr,
        optimizer=optimizer,
        accountant=accountant,
        random_state=seed,
    )
    model = r.classifier.save(out)
    res = r.to_dict() | {"model": str(model)}
    for note in r.warnings:
        typer.echo(f"warning: {note}", err=True)
    if as_json:
        echo_json(res)
        return
    guarantee = (
        r.classifier.privacy_.summary()
        if r.classifier.privacy_ is not None
        else "no differential privacy"
    )
    test_line = (
        f"held-out subjects {r.test_subjects}: accuracy {r.test_accuracy:.4f} "
        f"(per subject {r.test_per_subject})"
        if r.test_subjects
        else "no held-out subjects (--test-subjects) to test on"
    )
    typer.echo(
        f"trained on subjects {r.train_subjects} ({r.n_train_trials} trials, "
        f"{r.n_features} features, classes {r.classes}): training accuracy "
        f"{r.train_accuracy:.4f}\n{test_line}\n{guarantee}\nmodel: {model}"
    )
