"""The free-text scanner: what in a string still looks like it names a person.

Recordings carry free text: EDF+ annotations, BrainVision markers, NWB notes and
descriptions, BIDS JSON strings and ``events.tsv`` columns. Existing anonymizers leave
it alone (MNE's ``raw.anonymize()``, edfio's ``anonymize()`` and mne-bids all kept a
planted patient name in annotation text), so :class:`TextScrubber` handles it:

1. Text that is an **event code** passes untouched: ``T0``/``T1``/``T2``, numbers,
   BrainVision markers (``S  1``, ``R 12``, ``Stimulus/S  1``, ``New Segment``), BIDS
   trial types (lower-case words joined by ``_``, ``-`` or ``/``, such as
   ``left_fist`` or ``response/correct``), MNE's ``BAD_``/``EDGE`` annotations, and
   whatever the caller allows with ``allow`` (exact strings or regular expressions).
2. **Known identifiers** (the patient name, record number, experimenter,
   institution, device serial... read from the file's own identity fields) are
   removed wherever they occur, case-insensitively; a person's name is also removed
   token by token ("Jane Doe" removes "Doe" on its own).
3. Whatever still **looks identifying** is found by pattern (:data:`PATTERNS`: dates,
   e-mail addresses, phone numbers, record numbers, URLs and IP addresses, ages of 90
   and over, and pairs of capitalised words that may be a name) and reported; by
   default it is also redacted (replaced by ``[kind]``), ``redact=False`` only lists
   it.

The scanner favours recall: a capitalised word pair such as "Left Hand" in free text
is flagged too. It is a net, not a guarantee; the report lists what it caught so a
person can look.

>>> s = TextScrubber(known=[("Jane Doe", "name")])
>>> s.scrub("Patient Jane Doe, MRN 4471923, seen 03/04/2021").text
'Patient [removed], [record number], seen [date]'
>>> s.scrub("T1").text
'T1'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "EVENT_CODE_PATTERNS",
    "PATTERNS",
    "Finding",
    "ScrubResult",
    "TextScrubber",
    "is_event_code",
    "scan_text",
]

#: Texts that are event codes and pass untouched (whole-string matches).
EVENT_CODE_PATTERNS: tuple[str, ...] = (
    r"T\d{1,3}",  # PhysioNet eegmmidb / EDF+ task codes
    r"[+-]?\d+(\.\d+)?",  # numeric codes (GDF 769, triggers 1..255)
    r"(Stimulus|Response|Comment|Marker|Trigger)?/?\s*[SR]\s*\d{1,3}",  # BrainVision
    r"New Segment|Impedance|SyncStatus/Sync (On|Off)|DC Correction|boundary",
    r"(BAD|EDGE)[_ ]?[\w /-]*",  # MNE's bad-segment and edge annotations
    r"n/a|N/A",
    r"[a-z][a-z0-9]*([_/-][a-z0-9]+)*",  # BIDS trial types: left_fist, resp/ok
    r"[A-Z][A-Z0-9]*(_[A-Za-z0-9]+)+",  # upper-case code words: OVTK_GDF_Left
    r"[A-Z]{1,4}\d{0,3}",  # short upper-case codes: ON, OFF, AB1
)
_EVENT_CODE = re.compile(r"\s*(?:" + "|".join(EVENT_CODE_PATTERNS) + r")\s*")

_MONTH = (
    r"(?i:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|"
    r"Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
# Capitalised words that start sentences or name things other than people; a pair
# made only of these is not flagged as a name.
_NOT_NAMES = frozenset(
    [
        "The",
        "A",
        "An",
        "This",
        "That",
        "These",
        "Those",
        "It",
        "Its",
        "In",
        "On",
        "At",
        "Of",
        "For",
        "To",
        "From",
        "By",
        "With",
        "And",
        "Or",
        "But",
        "No",
        "Not",
        "Yes",
        "Left",
        "Right",
        "Both",
        "Up",
        "Down",
        "Start",
        "Stop",
        "End",
        "Begin",
        "Rest",
        "Trial",
        "Block",
        "Run",
        "Task",
        "Session",
        "Segment",
        "New",
        "Eyes",
        "Open",
        "Closed",
        "Hand",
        "Hands",
        "Fist",
        "Fists",
        "Feet",
        "Foot",
        "Tongue",
        "Imagine",
        "Imagined",
        "Imagery",
        "Motor",
        "Movement",
        "Baseline",
        "Stimulus",
        "Response",
        "Marker",
        "Comment",
        "Sync",
        "On",
        "Off",
        "Bad",
        "Good",
        "Note",
        "Notes",
        "Event",
        "Events",
        "Target",
        "Cue",
        "Go",
        "Nogo",
        "Correct",
        "Wrong",
        "Error",
        "Break",
        "Pause",
        "Resume",
        "Recording",
        "Channel",
        "Channels",
        "Electrode",
        "Impedance",
        "Eye",
        "Blink",
        "Artifact",
        "Artefact",
        "Muscle",
        "Noise",
        "Sleep",
        "Stage",
        "Wake",
        "Awake",
        "Light",
        "Dark",
        "Deep",
        "Visual",
        "Auditory",
        "Button",
        "Press",
        "Fixation",
        "Cross",
        "Image",
        "Face",
        "Faces",
        "House",
        "Houses",
        "Scrambled",
        "Object",
        "Objects",
        "Word",
        "Words",
        "Sound",
        "Tone",
        "Beep",
        "High",
        "Low",
        "Medium",
        "Fast",
        "Slow",
        "First",
        "Second",
        "Third",
        "Last",
        "Next",
        "Previous",
        "Subject",
        "Participant",
        "Patient",
        "Doctor",
        "Nurse",
        "Technician",
        "Device",
        "Amplifier",
        "Cap",
        "Model",
        "Type",
        "Version",
        "Filter",
        "Reference",
        "Ground",
        "Data",
        "File",
        "Seizure",
        "Onset",
        "Offset",
        "Spike",
        "Wave",
        "Sharp",
        "Burst",
        "Arousal",
        "Apnea",
        "Hypopnea",
        "Sensor",
    ]
)

#: (kind, regular expression) of what still looks identifying in free text.
PATTERNS: tuple[tuple[str, str], ...] = (
    ("e-mail", r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    ("url", r"(?:https?://|www\.)\S+"),
    ("ip address", r"\b\d{1,3}(?:\.\d{1,3}){3}\b"),
    (
        "date",
        r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2})?)?\b"
        r"|\b\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b"
        rf"|\b\d{{1,2}}(?:st|nd|rd|th)?[ -]{_MONTH}\.?[-, ]*\d{{2,4}}\b"
        rf"|\b{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b"
        rf"|\b{_MONTH}\s+\d{{4}}\b",
    ),
    (
        "phone number",
        r"(?<![\w.])(?:\+|00)?\d{1,3}?[\s.-]?\(?\d{2,4}\)?(?:[\s.-]?\d{2,4}){2,4}(?![\w.])",
    ),
    (
        "record number",
        r"\b(?:MRN|SSN|NHS|PID|DOB|ID|No|Nr|Record|Patient\s+ID|Case|Chart|Acc(?:ount)?"
        r"|Serial|S/N|SN)\b\.?\s*(?:number|no\.?|#)?\s*[:#=]?\s*[A-Z0-9][A-Z0-9-]{3,}"
        r"|\b[A-Z]{0,4}-?\d{6,}\b|\b\d{3}-\d{2}-\d{4}\b",
    ),
    (
        "age over 89",
        r"\b(?:9\d|1[0-2]\d)\s*(?:-?\s*(?:years?|yrs?|y/?o|y\.o\.)(?:\s*old)?)\b"
        r"|\bage[d:]?\s*(?:9\d|1[0-2]\d)\b",
    ),
    (
        "name",
        r"\b(?:Dr|Mr|Mrs|Ms|Miss|Prof)\.?\s+[A-Z][a-z'-]+"
        r"|\b[A-Z][a-z'-]+,\s+[A-Z][a-z'-]+\b",
    ),
)
# words for a person: one capitalised word after them is taken as a name
_PERSON_NOUNS = frozenset(
    ["Patient", "Subject", "Participant", "Doctor", "Nurse", "Technician"]
)
# runs of capitalised words ("Patient Jane Doe"): a name is two or more of them in
# a row that are not in _NOT_NAMES ("Jane Doe"), with an optional middle initial
_CAPITAL_RUN = re.compile(r"\b[A-Z][a-z'-]+(?:\s+(?:[A-Z]\.\s+)?[A-Z][a-z'-]+)+\b")
_CAPITAL_WORD = re.compile(r"[A-Z][a-z'-]+|[A-Z]\.")
_COMPILED = tuple((kind, re.compile(rx)) for kind, rx in PATTERNS)
_COMPILED_BY_KIND = dict(_COMPILED)


def is_event_code(text: str, allow: Sequence[str | re.Pattern[str]] = ()) -> bool:
    """Tell whether ``text`` as a whole is an event code (or allowed by ``allow``).

    >>> [is_event_code(t) for t in ("T0", "S  1", "left_fist", "Jane Doe")]
    [True, True, True, False]
    """
    if _EVENT_CODE.fullmatch(text):
        return True
    for rule in allow:
        if isinstance(rule, re.Pattern):
            if rule.fullmatch(text):
                return True
        elif text == rule:
            return True
    return False


@dataclass(frozen=True)
class Finding:
    """One thing the scanner caught in a string.

    ``kind`` says what it looks like ("known identifier", "date", "e-mail"...),
    ``text`` is the matched text, ``action`` what was done: ``"removed"`` (a known
    identifier), ``"redacted"`` (a pattern match replaced by ``[kind]``) or
    ``"flagged"`` (listed only).
    """

    kind: str
    text: str
    action: str


@dataclass(frozen=True)
class ScrubResult:
    """The scrubbed text and what was found in it."""

    text: str
    findings: tuple[Finding, ...] = ()

    @property
    def changed(self) -> bool:
        """True if anything was removed or redacted."""
        return any(f.action != "flagged" for f in self.findings)


def _name_pair_is_words(match: str) -> bool:
    words = re.findall(r"[A-Za-z'-]+", match)
    return all(w in _NOT_NAMES or w.rstrip(".") in _NOT_NAMES for w in words)


def _name_runs(text: str) -> list[tuple[int, int, str]]:
    """Spans of capitalised words that look like a person's name.

    Two or more in a row that are not common words ("Jane Doe" in "Patient Jane
    Doe"), or one right after a word for a person ("Quincy" in "Patient Quincy").
    """
    spans: list[tuple[int, int, str]] = []
    for run in _CAPITAL_RUN.finditer(text):
        words = [
            (run.start() + w.start(), run.start() + w.end(), w.group())
            for w in _CAPITAL_WORD.finditer(run.group())
        ]
        group: list[tuple[int, int, str]] = []
        before = ""  # the common word just before the group
        for word in [*words, (0, 0, "The")]:  # a common word ends a group
            if word[2] not in _NOT_NAMES:
                group.append(word)
                continue
            names = [w for w in group if not w[2].endswith(".")]
            if len(names) >= 2 or (names and before in _PERSON_NOUNS):
                a, b = group[0][0], group[-1][1]
                spans.append((a, b, text[a:b]))
            before, group = word[2], []
    return spans


def scan_text(text: str) -> list[tuple[str, int, int]]:
    """Every pattern match in ``text`` as ``(kind, start, end)``, earliest first.

    Overlapping matches keep the earlier kind in :data:`PATTERNS` order.

    >>> scan_text("mail jd@example.org on 2021-03-04")
    [('e-mail', 5, 19), ('date', 23, 33)]
    """
    taken: list[tuple[str, int, int]] = []
    for kind, rx in _COMPILED:
        matches = [(m.start(), m.end(), m.group()) for m in rx.finditer(text)]
        if kind == "name":
            matches += _name_runs(text)
        for start, end, group in matches:
            if end - start < 2 or not group.strip():
                continue
            if kind == "name" and _name_pair_is_words(group):
                continue
            if kind == "phone number" and sum(c.isdigit() for c in group) < 9:
                continue
            overlap = [t for t in taken if start < t[2] and t[1] < end]
            if overlap and all(t[0] == kind for t in overlap):
                # the same kind overlapping ("Walker, St" and "St Elsewhere
                # Hospital"): one span covering both
                for t in overlap:
                    taken.remove(t)
                start = min(start, *(t[1] for t in overlap))
                end = max(end, *(t[2] for t in overlap))
            elif overlap:
                continue
            taken.append((kind, start, end))
    return sorted(taken, key=lambda t: t[1])


@dataclass
class TextScrubber:
    """Remove known identifiers from free text and redact what still looks identifying.

    Parameters
    ----------
    known : iterable of (value, kind)
        Identifiers read from the files' identity fields. ``kind == "name"`` also
        removes each word of the value of 3 or more letters on its own.
    allow : sequence of str or compiled regex
        Extra event codes that pass untouched (exact strings, or patterns that must
        match the whole text).
    redact : bool
        Replace pattern matches by ``[kind]`` (default) or only list them.
    """

    known: Iterable[tuple[str, str]] = ()
    allow: Sequence[str | re.Pattern[str]] = ()
    redact: bool = True
    _terms: list[str] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        pairs = list(self.known)
        self.known = []
        for value, kind in pairs:
            self.add_known(value, kind)

    def add_known(self, value: str, kind: str = "identifier") -> None:
        """Add an identifier (and, for a name, its words) to remove from free text."""
        value = value.strip()
        if len(value) < 2 or value.upper() in ("X", "N/A", "UNKNOWN", "NONE"):
            return
        terms = {value}
        if kind == "name":
            terms |= {w for w in re.split(r"[\s,^_]+", value) if len(w) >= 3}
        for term in terms:
            if term.lower() not in (t.lower() for t in self._terms):
                self._terms.append(term)
        self._terms.sort(key=len, reverse=True)  # longest first

    @property
    def terms(self) -> tuple[str, ...]:
        """The known identifiers (longest first) that are removed."""
        return tuple(self._terms)

    def scrub(self, text: str) -> ScrubResult:
        """Scrub one string; event codes come back unchanged with no findings."""
        if not text or not text.strip() or is_event_code(text, self.allow):
            return ScrubResult(text)
        findings: list[Finding] = []
        out = text
        # addresses first: known names inside them would hide the address
        for kind in ("e-mail", "url"):
            pieces: list[str] = []
            last = 0
            for m in _COMPILED_BY_KIND[kind].finditer(out):
                holds = any(t.lower() in m.group().lower() for t in self._terms)
                if self.redact or holds:
                    action = "redacted" if self.redact else "removed"
                    findings.append(Finding(kind, m.group(), action))
                    pieces += [out[last : m.start()], f"[{kind}]"]
                    last = m.end()
            out = "".join([*pieces, out[last:]])
        for term in self._terms:
            bounded = r"(?<![A-Za-z0-9])" + re.escape(term) + r"(?![A-Za-z0-9])"
            rx = re.compile(bounded, re.I)
            if rx.search(out):
                findings.append(Finding("known identifier", term, "removed"))
                out = rx.sub("[removed]", out)
        for _ in range(4):  # until nothing more is found: scrubbing is idempotent
            spans = scan_text(out)
            action = "redacted" if self.redact else "flagged"
            findings += [Finding(kind, out[a:b], action) for kind, a, b in spans]
            if not self.redact or not spans:
                break
            parts: list[str] = []
            last = 0
            for kind, start, end in spans:
                parts += [out[last:start], f"[{kind}]"]
                last = end
            out = "".join([*parts, out[last:]])
        return ScrubResult(out, tuple(findings))
