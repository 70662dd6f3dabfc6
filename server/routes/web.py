"""The chat page (``/``, plain HTML + JS, no build step) and the plots/reports it links to."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path as FsPath

from fastapi import APIRouter, Path, Query
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel

from server.deps import ApiError, SettingsDep, ViewerDep

__all__ = ["STATIC_DIR", "ReportFile", "ReportList", "router"]

STATIC_DIR = FsPath(__file__).resolve().parents[1] / "static"
REPORT_SUFFIXES = (".png", ".svg", ".html", ".json", ".csv", ".md", ".txt")
router = APIRouter(tags=["web"])


class ReportFile(BaseModel):
    """A plot or report written by a tool."""

    name: str
    size: int
    modified: str
    url: str


class ReportList(BaseModel):
    """Reports, newest first."""

    data: list[ReportFile]
    count: int


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index() -> FileResponse:
    """The chat page."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")


@router.get("/v1/reports", response_model=ReportList)
def list_reports(settings: SettingsDep, _who: ViewerDep, limit: int = Query(50, ge=1, le=500)) -> ReportList:
    """Plots and reports (Gantt charts, trends...) written by tools, newest first."""
    root = settings.reports_dir
    files = [p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in REPORT_SUFFIXES] if root.is_dir() else []
    files.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    out = []
    for p in files[:limit]:
        rel = p.relative_to(root).as_posix()
        st = p.stat()
        out.append(ReportFile(name=rel, size=st.st_size, url=f"/v1/reports/{rel}",
                              modified=datetime.fromtimestamp(st.st_mtime, UTC).replace(tzinfo=None).isoformat()))
    return ReportList(data=out, count=len(out))


@router.get("/v1/reports/{name:path}", response_class=FileResponse,
            responses={200: {"content": {"image/png": {}, "text/html": {}}}})
def get_report(settings: SettingsDep, _who: ViewerDep,
               name: str = Path(..., min_length=1, max_length=300, pattern=r"^[A-Za-z0-9_.\-/]+$")) -> FileResponse:
    """One plot or report file."""
    root = settings.reports_dir.resolve()
    target = (root / name).resolve()
    if root not in target.parents or not target.is_file() or target.suffix.lower() not in REPORT_SUFFIXES:
        raise ApiError(404, f"No report {name!r}; list them with GET /v1/reports.", param="name", code="not_found")
    # tool-written HTML runs sandboxed (its own origin): it cannot read the page's API key
    return FileResponse(target, headers={"Content-Security-Policy": "sandbox allow-scripts"})
