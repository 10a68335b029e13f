"""The fonts of invoice PDFs: TrueType files shipped as package data (see fonts/README.md),
embedded as subsets in every PDF. DejaVu Sans covers Latin (Extended-A/B and Additional:
ę ř ș ț ő Ā Ł), Greek and Cyrillic; VL Gothic covers Japanese (JIS X 0208, ① ㈱ ※). Text is
split into runs by the font that has each character."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from reportlab.pdfbase import pdfmetrics

REGULAR, BOLD, CJK = "CrmpaySans", "CrmpaySans-Bold", "CrmpayGothic"
_FILES = {REGULAR: "DejaVuSans.ttf", BOLD: "DejaVuSans-Bold.ttf", CJK: "VL-Gothic-Regular.ttf"}
_latin: frozenset[int] = frozenset()
_cjk: frozenset[int] = frozenset()


def register_fonts() -> None:
    global _latin, _cjk
    if _latin:
        return
    from reportlab.pdfbase.ttfonts import TTFont

    folder = resources.files("crmpay.documents") / "fonts"
    for name, file in _FILES.items():
        with resources.as_file(folder / file) as path:
            font = TTFont(name, str(path))
        pdfmetrics.registerFont(font)
        if name == CJK:  # symbols it has (※ ① ㈱ 、) stay with the Japanese text around them
            _cjk = frozenset(code for code in font.face.charToGlyph if code >= 0x2000)
        if name == REGULAR:
            _latin = frozenset(font.face.charToGlyph)


@lru_cache(maxsize=4096)
def runs(text: str) -> tuple[tuple[str, bool], ...]:
    """`text` cut into runs: (piece, True) for the pieces drawn with the Japanese font
    (what the Latin font lacks, and the symbols both have above U+2000)."""
    latin, japanese = _latin, _cjk
    if text.isascii() or all(ord(char) in latin and ord(char) not in japanese for char in text):
        return ((text, False),)
    out: list[tuple[str, bool]] = []
    for char in text:
        cjk = ord(char) in japanese or ord(char) not in latin
        if out and out[-1][1] == cjk:
            out[-1] = (out[-1][0] + char, cjk)
        else:
            out.append((char, cjk))
    return tuple(out)


def text_width(text: str, font: str, size: float) -> float:
    return sum(pdfmetrics.stringWidth(run, CJK if cjk else font, size) for run, cjk in runs(text))
