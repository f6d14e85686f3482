"""HTML to PDF, shared by the door plates and the monthly reports.

Templates under ``templates/pdf/`` are rendered with Flask's Jinja environment, so they need
an application context. Each receives ``cjk_font_stack`` to use as its ``font-family``, and
should set ``<html lang="zh-CN">`` so that shared Han characters take their Simplified
Chinese forms and lines break the Chinese way.
"""

from __future__ import annotations

from typing import Any

from flask import render_template
from markupsafe import Markup

# WenQuanYi Micro Hei first: for the same document WeasyPrint renders it about 2.5 times
# faster than Noto Sans CJK (a smaller font to read and subset). Noto is the fallback for the
# rare character WQY lacks. Both come from the distribution's font packages, so the Chinese
# text is present on a fresh machine; the PDF embeds subsets, so readers need no fonts.
CJK_FONT_STACK = '"WenQuanYi Micro Hei", "Noto Sans CJK SC", sans-serif'


def pdf_context() -> dict[str, Any]:
    """What every PDF template may use."""
    # Markup: the stack goes into a <style> element, where HTML entities are not decoded, so
    # autoescaping its quotes would break the CSS. The constant is ours, so it is safe.
    return {"cjk_font_stack": Markup(CJK_FONT_STACK)}


def render_pdf(html: str) -> bytes:
    """The PDF of a complete HTML document (fonts subset and embedded)."""
    # Imported here: WeasyPrint and its font machinery take a while to load and only the PDF
    # pages need them.
    from weasyprint import HTML

    return HTML(string=html).write_pdf()


def render_template_pdf(template: str, **context: Any) -> bytes:
    """Render ``template`` (a path under ``templates/``) with ``context`` and make it a PDF.

    Needs an application context.
    """
    return render_pdf(render_template(template, **pdf_context(), **context))
