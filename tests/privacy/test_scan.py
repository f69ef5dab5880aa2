"""The free-text scanner against a 200-string fixture (issue 12, "What must show").

``data/freetext_200.json``: 100 strings carrying invented identifiers (names a header
would give, name pairs, dates in eight formats, e-mails, phone numbers, record
numbers and serials, ages over 89, URLs and IP addresses) and 100 event codes from
the formats neurodl reads (PhysioNet T0-T2, BrainVision markers, GDF and OpenViBE
codes, BIDS trial types, MNE's BAD_/EDGE annotations).
"""

import json
import re
from pathlib import Path

import pytest

from neurodl.privacy.scan import TextScrubber, is_event_code, scan_text

FIXTURE = json.loads((Path(__file__).parent / "data" / "freetext_200.json").read_text())


def _scrubber(**kw):
    return TextScrubber(known=[(n, "name") for n in FIXTURE["known"]], **kw)


def test_fixture_is_what_it_says():
    items = FIXTURE["items"]
    assert len(items) == 200
    assert sum(bool(i["planted"]) for i in items) == 100
    assert sum(not i["planted"] for i in items) == 100


def test_every_planted_identifier_is_found_and_removed():
    scrubber = _scrubber()
    missed = []
    for item in (i for i in FIXTURE["items"] if i["planted"]):
        result = scrubber.scrub(item["text"])
        for planted in item["planted"]:
            # no trace: neither the whole identifier nor any of its digit runs
            traces = [planted, *re.findall(r"\d{3,}", planted)]
            left = [t for t in traces if t.lower() in result.text.lower()]
            if left or not result.findings:
                missed.append((item["text"], result.text))
    assert missed == []  # recall 100 %


def test_no_event_code_is_flagged():
    scrubber = _scrubber()
    for item in (i for i in FIXTURE["items"] if not i["planted"]):
        result = scrubber.scrub(item["text"])
        assert result.findings == () and result.text == item["text"], item["text"]


def test_flag_only_mode_lists_without_changing():
    scrubber = TextScrubber(redact=False)
    result = scrubber.scrub("seen by John Smith on 2021-03-04")
    assert result.text == "seen by John Smith on 2021-03-04"
    assert [(f.kind, f.action) for f in result.findings] == [
        ("name", "flagged"),
        ("date", "flagged"),
    ]
    assert not result.changed


def test_known_name_is_removed_word_by_word_and_case_blind():
    scrubber = TextScrubber(known=[("Jane Doe", "name")])
    assert scrubber.scrub("mrs DOE arrived").text == "mrs [removed] arrived"
    # a word inside another word is not a match
    assert scrubber.scrub("Doeskin glove").text == "Doeskin glove"


def test_user_allowed_codes_pass():
    scrubber = TextScrubber(allow=["Smith Test", re.compile(r"Cond \d+")])
    assert scrubber.scrub("Smith Test").text == "Smith Test"
    assert scrubber.scrub("Cond 12").text == "Cond 12"
    assert scrubber.scrub("Cond 12 by John Smith").text == "Cond 12 by [name]"


@pytest.mark.parametrize(
    "code", ["T0", "T2", "S  1", "R 12", "Stimulus/S  1", "left_fist", "BAD_blink"]
)
def test_event_codes(code):
    assert is_event_code(code)


def test_scan_text_spans():
    text = "mail jd@example.org on 2021-03-04"
    assert [(k, text[a:b]) for k, a, b in scan_text(text)] == [
        ("e-mail", "jd@example.org"),
        ("date", "2021-03-04"),
    ]


def test_scrubbing_twice_changes_nothing_more():
    scrubber = _scrubber()
    for item in FIXTURE["items"]:
        once = scrubber.scrub(item["text"]).text
        assert scrubber.scrub(once).text == once


def test_a_common_word_before_a_name_does_not_hide_the_surname():
    # "Patient Jane" must not be taken as the name, leaving "Doe" behind
    assert (
        TextScrubber().scrub("Patient Jane Doe says hi").text
        == "Patient [name] says hi"
    )
    # one capitalised term next to a common word is not a name pair
    assert TextScrubber().scrub("Left Hippocampus").text == "Left Hippocampus"


def test_an_address_holding_a_known_name_goes_whole():
    scrubber = TextScrubber(known=[("Jane Doe", "name")], redact=False)
    result = scrubber.scrub("write to jane.doe@example.org or desk@example.org")
    assert result.text == "write to [e-mail] or desk@example.org"
    assert [(f.kind, f.action) for f in result.findings] == [
        ("e-mail", "removed"),
        ("e-mail", "flagged"),
    ]


def test_one_name_after_a_word_for_a_person():
    assert (
        TextScrubber().scrub("Patient Quincy coughed").text == "Patient [name] coughed"
    )
    assert TextScrubber().scrub("Subject Rest").text == "Subject Rest"  # a common word
