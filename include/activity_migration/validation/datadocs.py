"""Data Docs in a local folder, readable offline.

GX's pages load Bootstrap, Font Awesome, jQuery and Vega from CDNs; on a closed network
they render unstyled. After each build we rewrite every page: CDN ``<link>``/``<script>``
tags are removed, a small stylesheet shipped with the project
(``validation/static/datadocs.css``, copied to ``<site>/static/am/``) is linked instead, and
remote logo images point at the local copy GX already writes. Collapsed sections are shown
open, so nothing needs JavaScript.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from ..db import PROJECT_ROOT

if TYPE_CHECKING:  # GX is imported only where it runs (it is slow to import)
    from great_expectations.data_context.store.store import DataDocsSiteConfigTypedDict

STATIC_CSS = Path(__file__).resolve().parent / "static" / "datadocs.css"
SITE_NAME = "activity_migration_local"

_REMOTE_LINK = re.compile(r"<link\b[^>]*\bhref\s*=\s*[\"']https?://[^>]*>\s*", re.IGNORECASE)
_REMOTE_SCRIPT = re.compile(
    r"<script\b[^>]*\bsrc\s*=\s*[\"']https?://[^>]*>\s*</script>\s*", re.IGNORECASE | re.DOTALL
)
_REMOTE_IMG = re.compile(
    r"(<img\b[^>]*\bsrc\s*=\s*[\"'])https?://[^\"']*?(logo-long|full_logo_dark)[^\"']*([\"'])", re.IGNORECASE
)
_CSS_IMPORT = re.compile(r"@import\s+url\([\"']?https?://[^)]*\)\s*;?", re.IGNORECASE)
MARKER = "<!-- activity-migration: offline -->"
REMOTE_ASSET = re.compile(r"<(?:link|script)\b[^>]*(?:href|src)\s*=\s*[\"']https?://", re.IGNORECASE)


def default_dir(environment: str) -> Path:
    return PROJECT_ROOT / "artifacts" / "data_docs" / environment


def site_config(directory: Path) -> DataDocsSiteConfigTypedDict:
    """The ``data_docs_sites`` entry for GX: a filesystem site in ``directory``."""
    return {
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(directory)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }


def make_offline(directory: Path, since: float | None = None) -> int:
    """Rewrite the pages under ``directory`` to use only local assets; returns pages rewritten.

    :param since: only pages written at or after this time (``time.time()``) are read: a
        run rewrites the pages it built, not every page of every earlier run
    """
    directory = Path(directory)
    css_dir = directory / "static" / "am"
    css_dir.mkdir(parents=True, exist_ok=True)
    target = css_dir / "datadocs.css"
    if not target.exists() or target.stat().st_size != STATIC_CSS.stat().st_size:
        shutil.copyfile(STATIC_CSS, target)
    for css in (directory / "static" / "styles").glob("*.css"):
        if since is not None and css.stat().st_mtime < since:
            continue
        text = css.read_text()
        if _CSS_IMPORT.search(text):
            css.write_text(_CSS_IMPORT.sub("", text))
    count = 0
    for page in directory.rglob("*.html"):
        if since is not None and page.stat().st_mtime < since:
            continue
        text = page.read_text()
        if MARKER in text:
            continue
        rel = os.path.relpath(directory / "static", page.parent).replace(os.sep, "/")
        text = _REMOTE_SCRIPT.sub("", text)
        text = _REMOTE_LINK.sub("", text)
        text = _REMOTE_IMG.sub(lambda m: f"{m.group(1)}{rel}/images/logo-long.png{m.group(3)}", text)
        link = f'{MARKER}\n<link rel="stylesheet" href="{rel}/am/datadocs.css"/>\n'
        text = re.sub(r"</head>", link + "</head>", text, count=1, flags=re.IGNORECASE)
        page.write_text(text)
        count += 1
    return count


_TEMPLATE_CACHE = None


def cache_templates() -> None:
    """Compile GX's Data Docs templates once per process instead of once per page.

    GX builds a new Jinja ``Environment`` for every view it renders, so each Data Docs build
    re-parses and re-compiles some fifty templates (about half a second). We give those
    environments one shared in-memory bytecode cache. Idempotent; rendering is unchanged.
    """
    global _TEMPLATE_CACHE
    if _TEMPLATE_CACHE is not None:
        return
    from great_expectations.render.view import view as gx_view
    from jinja2 import BytecodeCache

    class _MemoryBytecodeCache(BytecodeCache):
        def __init__(self) -> None:
            self.store: dict[str, bytes] = {}

        def load_bytecode(self, bucket) -> None:  # noqa: ANN001 - jinja2.bccache.Bucket
            code = self.store.get(bucket.key)
            if code is not None:
                bucket.bytecode_from_string(code)

        def dump_bytecode(self, bucket) -> None:  # noqa: ANN001
            self.store[bucket.key] = bucket.bytecode_to_string()

    cache = _MemoryBytecodeCache()
    original = gx_view.DefaultJinjaView.__init__

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN001, N807
        original(self, *args, **kwargs)
        self.env.bytecode_cache = cache

    # A deliberate monkeypatch of GX's view class (mypy forbids assigning to a method)
    gx_view.DefaultJinjaView.__init__ = __init__  # type: ignore[method-assign]
    _TEMPLATE_CACHE = cache


def remote_assets(directory: Path) -> list[str]:
    """Pages under ``directory`` that still load CSS/JS over http(s) (should be none)."""
    return [str(p) for p in Path(directory).rglob("*.html") if REMOTE_ASSET.search(p.read_text())]
