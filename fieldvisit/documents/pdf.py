"""HTML to PDF, shared by the door plates, the monthly reports and the household booklet.

Templates under ``templates/pdf/`` are rendered with Flask's Jinja environment, so they need
an application context. Each receives ``cjk_font_stack`` to use as its ``font-family``, and
should set ``<html lang="zh-CN">`` so that shared Han characters take their Simplified
Chinese forms and lines break the Chinese way. Reports extend ``pdf/base.html``: A4 portrait,
a running header and the footer "第 N 页 共 M 页".
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import render_template
from markupsafe import Markup

# WenQuanYi Micro Hei first: for the same document WeasyPrint renders it about 2.5 times
# faster than Noto Sans CJK (a smaller font to read and subset). Noto is the fallback for the
# rare character WQY lacks. Both come from the distribution's font packages, so the Chinese
# text is present on a fresh machine; the PDF embeds subsets, so readers need no fonts.
CJK_FONT_STACK = '"WenQuanYi Micro Hei", "Noto Sans CJK SC", sans-serif'


def css_string(value: object) -> Markup:
    """``value`` as a quoted CSS string, safe inside a ``<style>`` element.

    For text from the data (a village's name) in ``content:`` of a page's margin boxes. A
    rendered block (Markup, HTML-escaped) is unescaped first: CSS shows text, not entities.
    """
    text = (value.unescape() if isinstance(value, Markup) else str(value)).strip()
    escaped = "".join(
        f"\\{ord(ch):x} " if ch in '"\\<>&' or ord(ch) < 0x20 or ord(ch) == 0x7F else ch
        for ch in text
    )
    # Markup: every character that could end the string or the element is escaped above.
    return Markup(f'"{escaped}"')


def pdf_context() -> dict[str, Any]:
    """What every PDF template may use."""
    # Markup: the stack goes into a <style> element, where HTML entities are not decoded, so
    # autoescaping its quotes would break the CSS. The constant is ours, so it is safe.
    return {"cjk_font_stack": Markup(CJK_FONT_STACK), "css_string": css_string}


@dataclass
class RenderedPdf:
    data: bytes
    # For each page, the ids of the elements that have an anchor on it (``id="..."``):
    # how the booklet learns where each household starts.
    anchors: list[list[str]]

    @property
    def pages(self) -> int:
        return len(self.anchors)


_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = False


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while WeasyPrint lays out a document.

    Layout builds hundreds of thousands of long-lived objects (boxes and their styles), and
    every full collection walks all of them: measured on a 100-household part of the
    booklet, collections took 28 % of the rendering time. Reference counting frees most of
    it; the cycles are collected once, when this ends. The switch is process-wide, so
    nested or concurrent renders share one pause.
    """
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            resume = _gc_pauses == 0 and _gc_was_enabled
            if resume:
                gc.enable()
        if resume:
            # The laid-out document has cycles; free them now, before the next part of a
            # booklet is laid out beside them. Only the youngest generation: everything
            # made while collection was paused is still in it, and a full collection would
            # walk the whole process's heap too (0.6 s a document in a server holding a
            # county's registry, against 0.04 s for the same objects freed).
            gc.collect(0)


def render_document(html: str) -> RenderedPdf:
    """Lay out and write a complete HTML document: the PDF and where its anchors fell.

    All of WeasyPrint's work happens here (the benchmark times this function as "WeasyPrint's
    own rendering"); everything else is ours.
    """
    # Imported here: WeasyPrint and its font machinery take a while to load and only the PDF
    # pages need them.
    from weasyprint import HTML

    with _cyclic_gc_paused():
        document = HTML(string=html).render()
        anchors = [list(page.anchors) for page in document.pages]
        return RenderedPdf(document.write_pdf(), anchors)


def render_pdf(html: str) -> bytes:
    """The PDF of a complete HTML document (fonts subset and embedded)."""
    return render_document(html).data


def render_template_pdf(template: str, **context: Any) -> bytes:
    """Render ``template`` (a path under ``templates/``) with ``context`` and make it a PDF.

    Needs an application context.
    """
    return render_pdf(render_template(template, **pdf_context(), **context))
