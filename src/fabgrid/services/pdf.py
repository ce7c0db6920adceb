"""Documents as PDF: self-contained HTML (the invoice, the inspection report, a contract) rendered by WeasyPrint
with the fonts of fontconfig (Debian's fonts-noto-cjk for Chinese), the glyphs used embedded as subsets.

Nothing is fetched while rendering: the documents carry no external resources, and a URL in one (a user's text
is escaped, but still) is refused rather than requested. Depends on WeasyPrint only.
"""

from __future__ import annotations

from typing import Any

#: Fonts tried first for every document (Chinese text needs a CJK face; Latin text is drawn by it too).
CJK_FONTS = '"Noto Sans CJK SC", "Noto Sans CJK", "Source Han Sans SC", sans-serif'


def _no_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    if url.startswith("data:"):
        import weasyprint

        fetched: dict[str, Any] = weasyprint.default_url_fetcher(url, *args, **kwargs)
        return fetched
    raise ValueError(f"documents load nothing from outside ({url[:80]})")


def html_to_pdf(html: str) -> bytes:
    """The PDF of a self-contained HTML document (A4 unless its CSS says otherwise)."""
    import weasyprint

    base = weasyprint.CSS(string=f"@page {{ size: A4; margin: 14mm }} body {{ font-family: {CJK_FONTS} }}")
    pdf: bytes = weasyprint.HTML(string=html, url_fetcher=_no_fetch).write_pdf(stylesheets=[base])
    return pdf
