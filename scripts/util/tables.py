"""Tables for the terminal and for markdown reports: the one writer every report uses."""

__all__ = ["markdown_table", "text_table"]


def markdown_table(header, rows) -> str:
    """A markdown table: ``header`` is the column titles, ``rows`` the cells (any values, written with ``str``)."""
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def text_table(title, pairs) -> str:
    """``title`` over aligned ``name  value`` lines, for the terminal."""
    pairs = list(pairs)
    width = max(len(str(name)) for name, _ in pairs)
    return title + "\n" + "\n".join(f"  {name!s:<{width}}  {value}" for name, value in pairs)
