"""Scrubbing machine-written text and short labels (not free prose).

Recorder tables (a BrainVision ``[Comment]`` block), program names in a processing
history, electrode locations or device models are not free text: "Low Cutoff",
"Left Hippocampus" or "MaxFilter Version" look like the capitalised name pairs the
free-text scanner redacts. :func:`scrub_label` removes the run's known identifiers and
redacts what matches the scanner's other patterns (dates, e-mail addresses, URLs, IP
addresses, phone numbers, record and serial numbers, ages over 89), and leaves name
pairs alone, so such text stays readable (and, for BrainVision, parsable).
"""

from __future__ import annotations

import re

from neurodl.privacy.deid._core import FileContext, FileFinding
from neurodl.privacy.scan import is_event_code, scan_text

__all__ = ["LABEL_KINDS", "scrub_label"]

#: the scanner's kinds that are redacted in labels (all but "name")
LABEL_KINDS = frozenset(
    [
        "e-mail",
        "url",
        "ip address",
        "date",
        "phone number",
        "record number",
        "age over 89",
    ]
)


def scrub_label(
    ctx: FileContext, field: str, text: str, *, redact: bool | None = None
) -> str:
    """Scrub label or machine-written ``text`` of field ``field``; record any change.

    Known identifiers are removed (``[removed]``) and matches of
    :data:`LABEL_KINDS` redacted (``[kind]``; only listed when the run does not
    redact, or when ``redact=False``: text that programs parse numbers from), as
    :meth:`FileContext.scrub` does for free text, but capitalised word pairs are not
    taken for names. Event codes pass untouched.
    """
    scrubber = ctx.scrubber
    redact = scrubber.redact if redact is None else redact and scrubber.redact
    if not text.strip() or is_event_code(text, scrubber.allow):
        return text
    out = text
    found: list[FileFinding] = []
    for term in scrubber.terms:
        rx = re.compile(
            r"(?<![A-Za-z0-9])" + re.escape(term) + r"(?![A-Za-z0-9])", re.IGNORECASE
        )
        if rx.search(out):
            found.append(FileFinding(field, "known identifier", term, "removed"))
            out = rx.sub("[removed]", out)
    pieces: list[str] = []
    last = 0
    for kind, start, end in scan_text(out):
        if kind not in LABEL_KINDS:
            continue
        action = "redacted" if redact else "flagged"
        found.append(FileFinding(field, kind, out[start:end], action))
        if redact:
            pieces += [out[last:start], f"[{kind}]"]
            last = end
    out = "".join([*pieces, out[last:]])
    ctx.report.findings.extend(found)
    if out != text:
        ctx.change(field, "scrubbed", out)
    return out
