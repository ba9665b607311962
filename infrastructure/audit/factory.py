"""The anchor named by LEDGERFLOW_AUDIT_ANCHOR (a URL; unset: a file under the data directory)."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from domain.audit.anchors import Anchor
from infrastructure.audit.lines import FileAnchor

SEVEN_YEARS = 2557  # days: the usual retention of trading records


def anchor_from_url(url: str | None, data_dir: Path) -> Anchor:
    if not url:
        return FileAnchor(data_dir / "audit" / "anchors.jsonl")
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if parts.scheme == "file":
        return FileAnchor(Path(unquote(parts.path)))
    if parts.scheme == "s3":
        from infrastructure.audit.s3 import S3Anchor

        prefix = parts.path.lstrip("/")
        return S3Anchor(parts.netloc, prefix if not prefix or prefix.endswith("/") else prefix + "/",
                        endpoint_url=query.get("endpoint"), region=query.get("region"),
                        retain_days=int(query.get("retain_days", SEVEN_YEARS)))
    if parts.scheme in ("tsa+https", "tsa+http"):
        from infrastructure.audit.tsa import TsaAnchor

        target = parts._replace(scheme=parts.scheme[4:], query="").geturl()
        trust = query.get("trust")
        return TsaAnchor(target, Path(query.get("file") or data_dir / "audit" / "anchors-tsa.jsonl"),
                         trust=Path(trust) if trust else None)
    raise ValueError(f"LEDGERFLOW_AUDIT_ANCHOR: unknown scheme {parts.scheme!r} "
                     "(file://, s3:// or tsa+https://)")
