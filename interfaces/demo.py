"""Demo data. Each context adds its part; loading twice adds nothing."""
from __future__ import annotations

from uuid import NAMESPACE_URL, uuid5

from domain.shared.context import CommandContext
from interfaces.bootstrap import Container

DEMO = CommandContext.system("demo", correlation_id="demo-load")


def _exists(container: Container, aggregate_id) -> bool:  # noqa: ANN001
    return bool(container.store.recorder.select_events(aggregate_id, limit=1))


def load_demo(container: Container) -> str:
    created = 0
    departments = [
        ("HQ", "总部 Head Office", "head_office", None),
        ("SH01", "上海分公司 Shanghai Branch", "branch", "HQ"),
        ("BJ01", "北京分公司 Beijing Branch", "branch", "HQ"),
        ("NETFIN", "网络金融部 Online Finance", "online_finance", "HQ"),
    ]
    ids = {code: uuid5(NAMESPACE_URL, f"ledgerflow:demo:department:{code}") for code, *_ in departments}
    for code, name, kind, parent in departments:
        if _exists(container, ids[code]):
            continue
        container.access.create_department(DEMO, code, name, kind, ids[parent] if parent else None, id=ids[code])
        created += 1
    return f"demo data: {created} departments created ({len(departments) - created} already present)"
