"""Render a table of strings as aligned plain text or as Markdown (validation reports)."""

from __future__ import annotations


def render_table(head: list[str], rows: list[list[str]], markdown: bool) -> str:
    """``head`` and ``rows`` (cells already formatted) as a Markdown table or as
    left-aligned columns separated by two spaces."""
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*head)] + [fmt.format(*row) for row in rows])
