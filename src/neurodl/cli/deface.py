"""``neurodl deface``: remove the face from an anatomical MRI (quickshear).

See :mod:`neurodl.privacy.deface` for the method, the mask maker and their limits.
"""

from __future__ import annotations

from pathlib import Path

import typer

from neurodl.cli._common import JSON, cli_errors, echo_json


@cli_errors(image="PATH")
def deface(
    path: Path = typer.Argument(
        ..., help="The anatomical image to deface (.nii or .nii.gz, one volume)."
    ),
    out: Path = typer.Option(
        ...,
        "--out",
        help="The defaced image to write (.nii or .nii.gz); its JSON sidecar is "
        "written beside it. Neither may exist.",
    ),
    mask: Path | None = typer.Option(
        None,
        "--mask",
        help="A brain mask on the image's grid (non-zero = brain). Default: made by "
        "neurodl (threshold, erosion, central piece; for T1w contrast, check it).",
    ),
    buffer_mm: float = typer.Option(
        10.0, "--buffer-mm", help="Distance (mm) from the brain mask to the plane."
    ),
    threshold: float | None = typer.Option(
        None,
        "--threshold",
        help="Mask maker's tissue threshold, a fraction in (0, 1) of the 99th "
        "intensity percentile (default: Otsu's threshold).",
    ),
    as_json: bool = JSON,
) -> None:
    """Remove the face from a T1w/T2w image; record it in the JSON sidecar."""
    from neurodl.privacy.deface import deface as run

    result = run(path, out, mask=mask, buffer_mm=buffer_mm, threshold=threshold)
    if as_json:
        echo_json(result.to_dict())
        return
    typer.echo(
        f"defaced {path} -> {result.image} ({result.removed} voxels removed; brain "
        f"mask {result.mask}); sidecar {result.sidecar}"
    )
    if result.removed == 0:
        typer.echo(
            "warning: no voxel was removed: the image was defaced already, or the "
            "brain mask reaches into the face (give --mask).",
            err=True,
        )
