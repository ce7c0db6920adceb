"""The part formats fabgrid reads: the one list every other list of formats derives from (upload checks,
API text, CLI help, the web page's `accept` attribute). `geometry.load` registers a loader for each.

Pure data, imports nothing heavy (the CLI reads it for its help text); never on store, services or web.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    """A part format: its id (the loader's key), the name shown to people, its file extensions and the
    optional extra it needs (None: always available)."""

    id: str
    label: str
    extensions: tuple[str, ...]
    extra: str | None = None


#: Every readable part format, in the order they are offered (mesh formats first, then CAD).
FORMATS: tuple[Format, ...] = (
    Format("stl", "STL", (".stl",)),
    Format("3mf", "3MF", (".3mf",)),
    Format("obj", "OBJ", (".obj",)),
    Format("ply", "PLY", (".ply",)),
    Format("step", "STEP", (".step", ".stp"), extra="step"),
)


def extensions() -> tuple[str, ...]:
    """Every accepted file extension, lower case with the dot (".stl", ...)."""
    return tuple(ext for f in FORMATS for ext in f.extensions)


def by_extension(ext: str) -> Format | None:
    """The format of a file extension (with or without the dot, any case), None when unknown."""
    key = "." + ext.lower().lstrip(".")
    return next((f for f in FORMATS if key in f.extensions), None)


def describe() -> str:
    """The formats in words: "STL, 3MF, OBJ, PLY or STEP (.step/.stp)"."""
    names = [f.label + (f" ({'/'.join(f.extensions)})" if len(f.extensions) > 1 else "") for f in FORMATS]
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]


def labels() -> tuple[str, ...]:
    """The names of the formats in order ("STL", "3MF", ...), for texts in other languages."""
    return tuple(f.label for f in FORMATS)


def accept() -> str:
    """The value of an HTML file input's `accept` attribute (".stl,.3mf,...")."""
    return ",".join(extensions())
