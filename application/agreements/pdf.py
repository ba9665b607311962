"""The agreement as a PDF (fpdf2, ADR 0021): CJK text in an embedded, subset TrueType font from PyPI
(WenQuanYi Micro Hei, Apache-2.0, in ``paperang-p2-fonts-cjk``), so no system font is needed and the
text stays extractable (ToUnicode map). Each section carries its department's colour bar (004 §5.2).

The file is a function of its inputs: the creation date is the generation's time and fpdf2 derives the
file identifier from the content, so rendering the same version again gives the same bytes (a retried
generation files the same document)."""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path

from fpdf import FPDF

from domain.agreements.sections import part_of

FONT_PACKAGE = "paperang_p2_fonts_cjk"


def default_font() -> Path:
    import paperang_p2_fonts_cjk

    return Path(paperang_p2_fonts_cjk.__file__).parent / "fonts" / "wqy-microhei.ttc"


@dataclass(frozen=True)
class PdfDocument:
    title: str
    agreement_number: str
    language: str
    template: str             # "<key> v<version>"
    version: int              # the agreement's version
    generated_at: datetime
    sections: list[dict[str, str]]   # [{number, title, text}] in order


LABELS = {"zh": {"number": "协议编号", "version": "版本", "template": "模板", "generated": "生成时间",
                 "owner": "负责部门"},
          "en": {"number": "Agreement no.", "version": "Version", "template": "Template",
                 "generated": "Generated", "owner": "Owner"}}


class PdfRenderer:
    def __init__(self, font: Path | None = None):
        self.font = font or default_font()
        digest = hashlib.sha256(self.font.read_bytes()).hexdigest()
        # Recorded on every generation: the same library and font reproduce the same bytes.
        self.identity = f"fpdf2 {metadata.version('fpdf2')}; font {self.font.name} sha256:{digest[:16]}"
        self._lock = threading.Lock()   # fpdf2 subsets through fontTools: one document at a time

    def render(self, doc: PdfDocument) -> bytes:
        with self._lock:
            return self._render(doc)

    def _render(self, doc: PdfDocument) -> bytes:
        labels = LABELS[doc.language]
        pdf = FPDF(format="A4")
        pdf.set_creation_date(doc.generated_at)
        pdf.set_title(doc.title)
        pdf.set_subject(doc.agreement_number)
        pdf.set_lang("zh-CN" if doc.language == "zh" else "en")
        pdf.set_creator("Ledgerflow")
        pdf.add_font("cjk", "", str(self.font))
        pdf.set_auto_page_break(True, margin=18)
        pdf.add_page()
        pdf.set_font("cjk", size=18)
        pdf.multi_cell(0, 10, doc.title, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("cjk", size=9)
        pdf.set_text_color(90, 90, 90)
        header = (f"{labels['number']}: {doc.agreement_number}    {labels['version']}: {doc.version}    "
                  f"{labels['template']}: {doc.template}    "
                  f"{labels['generated']}: {doc.generated_at.strftime('%Y-%m-%d %H:%M:%S %Z')}")
        pdf.multi_cell(0, 5, header, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
        for section in doc.sections:
            part = part_of(section["number"])
            pdf.set_text_color(0, 0, 0)
            top = pdf.get_y()
            if top > pdf.h - 40:
                pdf.add_page()
                top = pdf.get_y()
            page = pdf.page_no()
            pdf.set_fill_color(*part.rgb)
            pdf.set_font("cjk", size=12)
            pdf.set_x(pdf.l_margin + 3)
            pdf.multi_cell(0, 7, f"{section['number']} {section['title']}", new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("cjk", size=8)
            pdf.set_text_color(*part.rgb)
            pdf.set_x(pdf.l_margin + 3)
            pdf.multi_cell(0, 4, f"{labels['owner']}: {part.department}", new_x="LMARGIN", new_y="NEXT")
            pdf.set_text_color(0, 0, 0)
            pdf.set_font("cjk", size=10.5)
            pdf.set_x(pdf.l_margin + 3)
            pdf.multi_cell(0, 6, section["text"] or " ", new_x="LMARGIN", new_y="NEXT")
            if pdf.page_no() == page:   # the colour bar beside the section (when it fits one page)
                pdf.rect(pdf.l_margin, top, 1.2, max(pdf.get_y() - top, 4), style="F")
            pdf.ln(3)
        return bytes(pdf.output())
