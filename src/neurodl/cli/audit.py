"""``neurodl audit membership``: which subjects trained a model? An attack says.

Loads a classifier written by ``neurodl train features`` (a DPClassifier file:
network, privacy report, training recipe) and a feature file holding its
training subjects and others from the same population, and runs the
subject-level membership-inference attacks of :mod:`neurodl.privacy.audit`: the
loss threshold and the online LiRA, whose shadow models are trained with the
recipe stored in the model file. Reports attack AUC and the true-positive rate at
5 % false positives, beside the DP bound ``e^epsilon * 0.05 + delta``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from neurodl.cli._common import (
    JSON,
    check_writable,
    cli_errors,
    echo_json,
    write_json,
)
from neurodl.errors import ValidationError

app = typer.Typer(help="Audit a trained model's privacy empirically.")

ATTACK_CHOICES = {"loss": ("loss",), "lira": ("lira",), "both": ("loss", "lira")}


@app.command()
@cli_errors(n_shadows="--shadows", random_state="--seed", attacks="--attack")
def membership(
    model: Path = typer.Argument(
        ..., help="A classifier file written by 'neurodl train features'."
    ),
    data: Path = typer.Option(
        ...,
        "--data",
        help=".npz with X, y and subjects: the training subjects and others "
        "from the same population.",
    ),
    members: Path = typer.Option(
        ...,
        "--members",
        help="Text file naming the subjects that trained MODEL, one per line; "
        "every other subject in --data is a non-member.",
    ),
    attack: str = typer.Option("both", "--attack", help="loss, lira or both."),
    shadows: int = typer.Option(
        8, "--shadows", help="LiRA shadow models (trained with the model's recipe)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the shadows' subject halves."),
    out: Path = typer.Option(
        None, "--out", help="Also write the results as JSON here."
    ),
    as_json: bool = JSON,
) -> None:
    """Membership inference at the subject level: attack AUC and TPR at 5 % FPR."""
    import warnings

    from neurodl.cli._features import read_features, read_subject_list
    from neurodl.decode.private import DPClassifier
    from neurodl.privacy.audit import audit_membership

    check_writable("--out", out)
    if attack not in ATTACK_CHOICES:
        raise ValidationError(
            f"'--attack' must be one of {', '.join(map(repr, ATTACK_CHOICES))}; "
            f"got {attack!r}."
        )
    if seed < 0:
        raise ValidationError(f"'--seed' must be >= 0; got {seed!r}.")
    attacks = ATTACK_CHOICES[attack]
    if "lira" in attacks and shadows < 2:
        raise ValidationError(
            f"'--shadows' must be >= 2 for LiRA; got {shadows!r} (use --attack loss "
            "for the loss attack alone)."
        )
    if not model.is_file():
        raise ValidationError(
            f"'MODEL' must be a classifier file written by 'neurodl train "
            f"features'; got {str(model)!r}, which does not exist."
        )
    clf = DPClassifier.load(model)
    X, y, groups = read_features(data, "--data")
    if X.shape[1] != clf.n_features_in_:
        raise ValidationError(
            f"'--data' has {X.shape[1]} features but the model takes "
            f"{clf.n_features_in_}."
        )
    mem = read_subject_list(members, groups, "--members")
    with warnings.catch_warnings():
        # shadows of a sample-level recipe repeat the warning the model got
        from neurodl.privacy.dp import SampleLevelPrivacyWarning

        warnings.simplefilter("ignore", SampleLevelPrivacyWarning)
        res = audit_membership(
            clf,
            X,
            y,
            groups,
            mem,
            attacks=attacks,
            n_shadows=shadows,
            random_state=seed,
        )
    d = {"model": str(model), "data": str(data)} | res.to_dict()
    if out is not None:
        write_json(out, d)
    if as_json:
        echo_json(d)
        return
    lines = [
        f"membership inference on {model}: {res.n_members} member and "
        f"{res.n_nonmembers} non-member subjects; accuracy members "
        f"{res.member_accuracy:.3f}, non-members {res.nonmember_accuracy:.3f}"
    ]
    for a in res.attacks.values():
        extra = f", {a.n_shadows} shadows" if a.n_shadows else ""
        lines.append(
            f"  {a.attack}: AUC {a.auc:.3f}, TPR at {100 * a.fpr:g}% FPR "
            f"{a.tpr_at_fpr:.3f}{extra}"
        )
    if res.privacy is None:
        lines.append("  model trained without differential privacy: no bound")
    else:
        lines.append(
            f"  DP bound on TPR at 5% FPR: {res.dp_bound_tpr:.3f} "
            f"(epsilon {float(res.privacy['epsilon']):.3g} per "
            f"{res.privacy['privacy_unit']}, delta {res.privacy['delta']:.3g})"
        )
        if res.extra.get("bound_note"):
            lines.append(f"  ({res.extra['bound_note']})")
    typer.echo("\n".join(lines))
