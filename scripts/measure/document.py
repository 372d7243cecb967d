"""``docs/measurements.md``: one section per part, each replaced by that part's run and the others kept as they are.

A section sits between ``<!-- measure:<part> begin {...} -->`` and ``<!-- measure:<part> end -->``; the begin marker
holds the run's date and commit as JSON, which the index at the top of the file lists. The file is always written
whole (renamed into place), and a file that is not one of these is never overwritten.
"""

import json
import re
from pathlib import Path

from ..util.errors import UsageError
from ..util.output import check_outputs, write_atomic

__all__ = ["MARK", "check_document", "read_sections", "render", "write_section"]

MARK = "<!-- written by `trifactor measure` (scripts/measure/): re-measure, do not edit -->"
SECTION = re.compile(r"<!-- measure:(?P<part>[a-z]+) begin (?P<meta>\{.*?\}) -->\n(?P<body>.*?)"
                     r"<!-- measure:(?P=part) end -->\n?", re.S)


def check_document(path, option: str = "--out"):
    """Raise :class:`UsageError` unless ``path`` can be written and is new, empty or a measurements file."""
    check_outputs({option: path})
    path = Path(path)
    if path.exists() and path.stat().st_size and MARK not in path.read_text(errors="replace"):
        raise UsageError(f"{option} {path} exists and was not written by trifactor measure",
                         f"give {option} a new file, or docs/measurements.md")


def read_sections(path) -> dict:
    """``{part: (meta dict, section text with its markers)}`` of the file at ``path`` (none if it does not exist)."""
    path = Path(path)
    if not path.exists():
        return {}
    return {m["part"]: (json.loads(m["meta"]), m.group(0).rstrip("\n") + "\n")
            for m in SECTION.finditer(path.read_text())}


def section(part: str, meta: dict, body: str) -> str:
    """A section's text: the markers around ``body``."""
    return (f"<!-- measure:{part} begin {json.dumps(meta, sort_keys=True)} -->\n{body.rstrip()}\n"
            f"<!-- measure:{part} end -->\n")


def render(sections: dict, parts: dict) -> str:
    """The whole file: the title, the index of ``parts`` (``{part: description}``, in this order) and the
    ``sections`` present, in the same order (a section of a part no longer known is kept at the end)."""
    rows = []
    for part, description in parts.items():
        meta = sections[part][0] if part in sections else None
        when = f"{meta['date']}, `{meta['commit']}`" if meta else "not measured yet"
        link = f"[{part}](#{part})" if meta else part
        rows.append(f"| {link} | {description} | {when} |")
    lines = ["# Measurements", "", MARK, "",
             "Every figure the README quotes comes from this file. Each section was written by the command in its first",
             "row, on the commit, date and machine below it, with those tool versions; run `make measure WHAT=<part>`",
             "(or `trifactor measure --what <part>`) to measure a part again: it replaces its own section and",
             "keeps the others. A JSON copy of each part's figures is written to `build/measure/<part>.json`.", "",
             "| part | what it measures | last measured |", "|---|---|---|", *rows, ""]
    ordered = [part for part in parts if part in sections] + [part for part in sections if part not in parts]
    for part in ordered:
        lines += [sections[part][1]]
    return "\n".join(lines)


def write_section(path, part: str, meta: dict, body: str, parts: dict):
    """Replace (or add) ``part``'s section in the file at ``path``, keeping every other section as it is."""
    check_document(path)
    sections = read_sections(path)
    sections[part] = (meta, section(part, meta, body))
    text = render(sections, parts)
    write_atomic(path, lambda f: f.write(text.encode()))
