"""The part formats as the entry points show them (CLI help, API text, the web's `accept` and upload hint), all
derived from the one list in `geometry.formats`. Light: imports nothing but that list, so the CLI can read it
for its help text without loading the engines.
"""

from __future__ import annotations

from fabgrid.geometry import formats

#: Accepted upload extensions (".stl", ...).
EXTENSIONS = formats.extensions()
#: The formats in words ("STL, 3MF, OBJ, PLY or STEP (.step/.stp)").
FORMATS_TEXT = formats.describe()
#: The names of the formats ("STL", "3MF", ...), for texts in other languages.
LABELS = formats.labels()
#: The `accept` attribute of a file input for part uploads.
ACCEPT = formats.accept()


def in_words(lang: str) -> str:
    """The format names as a list in `lang` ("STL, 3MF, OBJ, PLY or STEP"; zh: "STL、3MF、OBJ、PLY 或 STEP")."""
    if len(LABELS) == 1:
        return LABELS[0]
    if lang == "zh":
        return "、".join(LABELS[:-1]) + " 或 " + LABELS[-1]
    return ", ".join(LABELS[:-1]) + " or " + LABELS[-1]
