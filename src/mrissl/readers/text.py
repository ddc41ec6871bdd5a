"""Text a hospital wrote, in whatever encoding it was saved: one decoder for every reader.

The encoding is found by a fixed chain, not guessed: a byte-order mark names it (UTF-8, UTF-16,
UTF-32); without one, UTF-8; failing that, Windows-1252 (the "latin-1" of Windows exports: a
superset of ISO-8859-1's letters, with the euro sign and typographic quotes where ISO-8859-1 has
unused control codes). Statistical detectors such as charset_normalizer guess among dozens of code
pages and, on a short report, guess wrong: "Läsion, Ödem" in latin-1 comes back as cp1006 (Urdu).
A fixed chain also gives the same text for the same bytes on every machine.
"""

from __future__ import annotations

import codecs
import re

# UTF-32-LE's mark begins with UTF-16-LE's, so it is tried first.
BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)
WITHOUT_MARK = (("utf-8", "UTF-8"), ("cp1252", "Windows-1252"))
# Control characters (Unicode category Cc) other than tab, line feed and carriage return: text has
# none of them, binary data (NUL above all) has many.
BINARY_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class UndecodableText(ValueError):
    """Bytes that are not text in any encoding the chain tries; the message is the quarantine reason."""


def decode_text(data: bytes) -> str:
    """``data`` decoded by the chain of this module (byte-order mark, else UTF-8, else Windows-1252).

    Raises :class:`UndecodableText` when the encoding the mark names does not decode ``data``, when
    neither UTF-8 nor Windows-1252 does, or when the text holds control characters no text has
    (binary data; also UTF-16 saved without its byte-order mark, which reads as letters and NULs).
    """
    marked = next(((codec, name) for mark, codec, name in BYTE_ORDER_MARKS if data.startswith(mark)), None)
    for codec, name in [marked] if marked else WITHOUT_MARK:
        try:
            text = data.decode(codec)
            break
        except UnicodeDecodeError as exc:
            failure = f"byte {exc.start}: {exc.reason}"
    else:
        if marked:
            raise UndecodableText(f"not valid {name} although it starts with a {name} byte-order mark ({failure})")
        raise UndecodableText(f"neither UTF-8 nor Windows-1252 ({failure}); save it as UTF-8")
    control = BINARY_CONTROL.search(text)
    if control:
        raise UndecodableText(
            f"binary data, not text (control character U+{ord(control[0]):04X} at character {control.start()}); "
            "a UTF-16 file needs its byte-order mark"
        )
    return text
