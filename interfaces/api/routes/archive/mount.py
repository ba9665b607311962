"""Static mount (静态资料挂载) over HTTP: a zip of historical documents with manifest.csv."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, File, Request, UploadFile
from pydantic import BaseModel

from domain.shared.errors import PermissionDeniedError
from interfaces.api.deps import ContainerDep
from interfaces.api.routes.archive.common import PREFIX, Mounter, _in_scope, _saved_zip
from interfaces.bootstrap import Container

router = APIRouter(prefix=PREFIX, tags=["archive"])


class MountFile(BaseModel):
    filename: str
    status: Literal["imported", "failed"]
    document_id: UUID | None = None
    sha256: str | None = None
    error: str | None = None


class MountReportPublic(BaseModel):
    total: int
    imported: int
    failed: int
    files: list[MountFile]


@router.post("/mounts", response_model=MountReportPublic, response_model_exclude_unset=True,
             summary="静态资料挂载: import a zip of historical documents with manifest.csv; "
                     "answers the per-file report. Zip bombs and `..` members are refused (422).")
def mount_zip(request: Request, container: ContainerDep, policy: Mounter,
              file: Annotated[UploadFile, File(description="zip with manifest.csv and the files")]) -> dict[str, Any]:
    with _saved_zip(container, file) as path:
        lines = _manifest_lines(container, path)
        if any(not policy.sees_line(line) for line in lines):
            raise PermissionDeniedError("the manifest names a business line outside your scope",
                                        field="business_line")
        report = container.archive.mount(policy.context(request.state.correlation_id), path,
                                         department_id=policy.principal.department_id, allowed=_in_scope(policy))
    return report.as_dict()


def _manifest_lines(container: Container, path: Path) -> set[str]:
    """Business lines a mount manifest names (checked against the caller before importing). The
    zip is judged (bombs, ``..``) before its manifest is read, and the manifest is read bounded."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            rows = container.archive.mount_manifest(zf)
    except (zipfile.BadZipFile, OSError):
        return set()  # mount() explains what is wrong
    return {row.get("business_line") or "" for row in rows}
