"""Demo archive: a few customers' documents, account-level and customer-level, with versions,
a reclassification and a deletion, so the customer view shows a real history."""
from __future__ import annotations

import struct
import zlib
from typing import Any

from eventsourcing.utils import get_topic

from application.archive.filing import Filing
from application.archive.service import ArchiveApplication
from domain.archive.document import Document
from domain.shared.context import CommandContext
from domain.shared.ids import natural_id


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A real, viewable PNG of one colour."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))


def pdf(text: str) -> bytes:
    """A one-page PDF saying ``text`` (ASCII)."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
               b" /Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


DOCUMENTS: list[dict[str, Any]] = [
    {"customer": "88001234", "account": "88001234", "dept": "SH01-S1", "category": "head_photo",
     "name": "88001234_20240301_11.png", "body": png(48, 64, (200, 170, 150)), "title": "头像 Head photo"},
    {"customer": "88001234", "account": "88001234", "dept": "SH01-S1", "category": "id_card",
     "name": "88001234_20240301_12.png", "body": png(86, 54, (120, 160, 220)), "title": "身份证 ID card",
     "versions": [("88001234_20250301_12.png", png(86, 54, (90, 140, 230)), "证件到期换新 renewed ID")]},
    {"customer": "88001234", "account": None, "dept": "SH01-S1", "category": "risk_disclosure",
     "name": "风险揭示书.pdf", "body": pdf("Risk disclosure - signed 2024-03-01"), "title": "风险揭示书"},
    {"customer": "88005678", "account": None, "dept": "SH01", "category": "business_licence",
     "name": "营业执照.png", "body": png(120, 80, (230, 200, 120)), "title": "营业执照 Business licence",
     "reclassify": "business_licence_copy"},
    {"customer": "88005678", "account": "88005678", "dept": "SH01", "category": "agent_id",
     "name": "88005678_20231115_22.png", "body": png(86, 54, (180, 180, 180)), "title": "经办人身份证",
     "delete": "经办人已更换 agent replaced"},
]


def load_archive(archive: ArchiveApplication, store: Any, actor: CommandContext) -> int:
    """Idempotent: loads only while no document was ever uploaded."""
    if store.recorder.select_notifications(start=1, limit=1, topics=[get_topic(Document.Uploaded)]):
        return 0
    created = 0
    for d in DOCUMENTS:
        dept = natural_id("department", d["dept"])
        up = archive.upload(actor, [d["body"]], filename=d["name"], declared_type=None, metadata={"title": d["title"]},
                            filing=Filing(customer=d["customer"], fund_account=d["account"], business_line="brokerage",
                                          department_id=dept if archive.exists(dept) else None,
                                          category=d["category"]))
        for name, body, comment in d.get("versions", []):
            archive.add_version(actor, up.result.id, [body], filename=name, declared_type=None, comment=comment)
        if d.get("reclassify"):
            archive.reclassify(actor, up.result.id, category=d["reclassify"], business_type=None, reason="demo")
        if d.get("delete"):
            archive.delete(actor, up.result.id, d["delete"])
        created += 1
    return created
