"""协议预览 分部门高亮显示 (004 §7.2): a version as one HTML page, each section in its department's
colour (004 §5.2) with its mark (✅ ⏳ ❌ 📝) and its reviews. Every text from the form, the template or
a review is escaped: the page is served from our origin, so unescaped text would be script."""
from __future__ import annotations

from html import escape
from typing import Any

from domain.agreements.agreement import Agreement
from domain.agreements.sections import MARK_LABELS, MARKS, PARTS, part_of

STYLE = """
body{font-family:"Noto Sans SC","Microsoft YaHei",sans-serif;max-width:60rem;margin:2rem auto;color:#111}
h1{text-align:center}.meta{text-align:center;color:#555;font-size:.85rem}
section{border-left:.4rem solid;margin:1rem 0;padding:.5rem 1rem;border-radius:.2rem}
section h2{font-size:1.05rem;margin:.2rem 0}.owner{font-size:.8rem;font-weight:normal}
.text{white-space:pre-wrap}.reviews{font-size:.85rem;color:#333;margin:.4rem 0 0;padding-left:1.2rem}
""" + "".join(
    f".dept-{p.colour}{{border-color:rgb{p.rgb};background:rgba({p.rgb[0]},{p.rgb[1]},{p.rgb[2]},.08)}}"
    f".dept-{p.colour} .owner{{color:rgb{p.rgb}}}" for p in PARTS.values())

REVIEW_LABELS = {"approved": "✅ 批准 approved", "rejected": "❌ 拒绝 rejected", "commented": "📝 批注 comment"}


def _reviews(reviews: list[dict[str, Any]]) -> str:
    if not reviews:
        return ""
    items = "".join(
        f'<li class="review review-{r["kind"]}">{REVIEW_LABELS[r["kind"]]} · {escape(r["role"].upper())} · '
        f'{escape(r["actor"])} · {escape(r["at"].isoformat(timespec="seconds"))}'
        + (f': <span class="review-text">{escape(r["text"])}</span>' if r["text"] else "") + "</li>"
        for r in reviews)
    return f'<ul class="reviews">{items}</ul>'


def preview_html(agreement: Agreement, number: int) -> str:
    generation = agreement.generation(number)
    marks = agreement.marks(number)
    parts = []
    for s in generation["sections"]:
        part, mark = part_of(s["number"]), marks[s["number"]]
        parts.append(
            f'<section id="s{escape(s["number"])}" class="dept-{part.colour}" data-section="{escape(s["number"])}" '
            f'data-department="{part.department}" data-colour="{part.colour}" data-mark="{mark}">'
            f'<h2><span class="mark" title="{MARK_LABELS[mark]}">{MARKS[mark]}</span> {escape(s["number"])} '
            f'{escape(s["title"])} <span class="owner">{part.department} · {part.title_zh} {part.title_en}</span></h2>'
            f'<div class="text">{escape(s["text"])}</div>{_reviews(agreement.reviews_of(number, s["number"]))}'
            "</section>")
    lang = "zh-CN" if agreement.language == "zh" else "en"
    return (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
            f"<title>{escape(agreement.title)} · {escape(agreement.number)} v{number}</title>"
            f"<style>{STYLE}</style></head><body><h1>{escape(agreement.title)}</h1>"
            f'<p class="meta">{escape(agreement.number)} · v{number} · {escape(agreement.template_key)} '
            f'v{generation["template_version"]} · {escape(generation["generated_at"].isoformat())}</p>'
            + "".join(parts) + "</body></html>")
