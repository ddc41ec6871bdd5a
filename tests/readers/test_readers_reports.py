"""Radiology reports in other encodings are decoded and kept; undecodable or empty ones are quarantined."""

from __future__ import annotations

import codecs

import pandas as pd
import pytest

from mrissl.manifest import QUARANTINE_COLUMNS, file_key
from mrissl.readers.reports import read_reports
from mrissl.readers.text import UndecodableText, decode_text

SALT = "test-salt"
REPORTS = {"A": "Läsion links frontal, perifokales Ödem.", "B": "Keine Blutung; Befund 2 cm groß.", "C": "Normal."}


def as_table(reports: dict[str, str]) -> str:
    return "subject\treport\n" + "".join(f"{subject}\t{report}\n" for subject, report in reports.items())


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1", "cp1252", "utf-8-sig", "utf-16", "utf-16-be", "utf-32"])
def test_a_table_in_another_encoding_is_decoded_and_kept(tmp_path, encoding):
    path = tmp_path / "reports.tsv"
    data = as_table(REPORTS).encode(encoding)
    if encoding == "utf-16-be":  # Python's utf-16-be writes no byte-order mark; a file from Windows has one
        data = codecs.BOM_UTF16_BE + data
    path.write_bytes(data)
    reports, quarantine = read_reports(path, ["subject"], SALT)
    assert dict(zip(reports["subject"], reports["report"])) == REPORTS
    assert list(quarantine.columns) == QUARANTINE_COLUMNS and quarantine.empty


def test_bad_rows_are_quarantined_naming_the_file_and_row_and_the_others_kept_unchanged(tmp_path):
    path = tmp_path / "reports.tsv"
    path.write_bytes(
        as_table({"A": REPORTS["A"], "B": '"' + REPORTS["B"] + '\nzweite Zeile"'}).encode("utf-8")
        + "D\tLäsion, Ödem\n".encode("latin-1")    # one row pasted from a Windows-1252 system
        + b"E\t\n" + b"F\t   \r\n"                  # empty, whitespace only
        + b"G\t%PDF\x00\x01\x02\n"                  # binary
        + b"H\t\x81\x8d\x9d\n"                      # bytes neither UTF-8 nor Windows-1252 decodes
        + "C\tNormal.\n".encode("utf-8")
    )
    reports, quarantine = read_reports(path, ["subject"], SALT)
    assert reports.to_dict("records") == [
        {"subject": "A", "report": REPORTS["A"]},  # UTF-8 rows keep their letters beside the latin-1 one
        {"subject": "B", "report": REPORTS["B"] + "\nzweite Zeile"},
        {"subject": "D", "report": "Läsion, Ödem"},
        {"subject": "C", "report": "Normal."},
    ]
    assert set(quarantine["file_key"]) == {file_key(SALT, "reports.tsv")}
    assert quarantine["reason"].tolist() == [
        "reports table row 4: empty report",
        "reports table row 5: empty report",
        "reports table row 6: binary data, not text (control character U+0000 at character 4); "
        "a UTF-16 file needs its byte-order mark",
        "reports table row 7: neither UTF-8 nor Windows-1252 (byte 0: character maps to <undefined>); save it as UTF-8",
    ]
    assert str(tmp_path) not in quarantine.to_csv()  # no source path in what goes under results/


UNREADABLE = {  # file bytes -> the start of the reason after "reports table not readable: "
    "invalid UTF-16": (as_table(REPORTS).encode("utf-16")[:-1], "not valid UTF-16 although it starts with a UTF-16 byte-order mark"),
    "lone surrogate": (codecs.BOM_UTF16_LE + b"s\x00\x00\xd8\n\x00", "not valid UTF-16"),
    "UTF-16 without its mark": (as_table(REPORTS).encode("utf-16-le"), "binary data, not text (control character U+0000"),
    "binary": (bytes(range(256)) * 4, "binary data, not text"),
    "empty": (b"", "empty file"),
    "whitespace only": (b" \n\r\n", "empty file"),
}


@pytest.mark.parametrize("case", UNREADABLE)
def test_an_undecodable_or_empty_file_is_quarantined_whole(tmp_path, case):
    data, reason = UNREADABLE[case]
    path = tmp_path / "reports.tsv"
    path.write_bytes(data)
    reports, quarantine = read_reports(path, ["subject", "session"], SALT)
    assert reports.empty and list(reports.columns) == ["subject", "session", "report"]
    assert quarantine["file_key"].tolist() == [file_key(SALT, "reports.tsv")]
    assert quarantine["reason"].iloc[0].startswith(f"reports table not readable: {reason}"), quarantine["reason"].iloc[0]


def test_a_table_without_the_report_column_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "reports.tsv"
    path.write_text("subject\ttext\nA\tNormal.\n")
    with pytest.raises(ValueError, match=r"reports.tsv: the reports table lacks columns \['report'\]"):
        read_reports(path, ["subject"], SALT)


def test_decode_text_follows_the_mark_then_utf8_then_windows_1252():
    assert decode_text("Ödem".encode("utf-8")) == "Ödem"
    assert decode_text("Ödem – 5 €".encode("cp1252")) == "Ödem – 5 €"
    assert decode_text(codecs.BOM_UTF8 + "Ödem".encode("utf-8")) == "Ödem"
    assert decode_text("Ödem".encode("utf-16")) == "Ödem"
    with pytest.raises(UndecodableText, match="not valid UTF-16"):
        decode_text(codecs.BOM_UTF16_LE + b"\x00\xd8")
