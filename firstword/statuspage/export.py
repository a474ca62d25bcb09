"""`firstword statuspage export DIR`: the whole public site as static files.

For hosting the status page on infrastructure separate from the (possibly compromised or
overloaded) main systems: any static web server, object store or CDN serves the directory
as it is, with no Python and no database behind it.

Layout (the same paths the app serves):
    index.html                English page (also index.en.html); index.de.html, ... per language
    stores/index.html         every store with its status (stores.en.html, stores.de.html, ...):
                              the app's /stores searches; a static copy lists them all
    subscribe/index.html      where to subscribe (the app) and the feeds (subscribe.en.html, ...)
    status.css                the page's stylesheet
    api/v2/*.json             Statuspage-compatible JSON (summary.json, status.json, ...)
    history.atom, history.rss feeds
    banner.js, banner.json    the shop-front banner
    *.gz                      gzip-compressed copies of the files of 1 KiB and more, for
                              servers that send them as they are (nginx `gzip_static`)
    _headers                  cache/CORS headers for Netlify / Cloudflare Pages style hosts
    nginx.conf                the same for nginx (language negotiation, gzip_static included)
    .firstword-export         marks the directory as ours (export refuses to replace others)

The export is written to a temporary directory beside DIR and then renamed into place, so a
web server never sees half a site; file times are the files' render times, so static
servers send a truthful Last-Modified.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from sqlalchemy.orm import Session

from firstword.core.errors import InvalidInput
from firstword.statuspage import snapshot
from firstword.statuspage.snapshot import Artifact

MARKER = ".firstword-export"
DEFAULT_LANGUAGE = "en"
SHORT_CACHE = "public, max-age=10, stale-while-revalidate=30, stale-if-error=86400"
LONG_CACHE = "public, max-age=300, stale-while-revalidate=600, stale-if-error=86400"
GZIP_MIN_BYTES = 1024  # smaller files fit in one packet anyway


@dataclass(frozen=True)
class ExportReport:
    directory: Path
    files: int
    bytes: int
    snapshot_at: datetime | None  # when the newest exported file was rendered
    languages: tuple[str, ...]
    compressed: int = 0  # .gz copies written beside the files (not counted in files/bytes)


def precompressed(content: bytes) -> bytes | None:
    """The gzip copy of a file worth compressing (1 KiB or more, saving 10 % or more), made
    once per version: deterministic (no timestamp), so equal bytes give an equal copy."""
    if len(content) < GZIP_MIN_BYTES:
        return None
    compressed = gzip.compress(content, compresslevel=9, mtime=0)
    return compressed if len(compressed) <= 0.9 * len(content) else None


def _languages(artifacts: list[Artifact]) -> list[str]:
    return sorted(
        a.path.removeprefix("index.").removesuffix(".html")
        for a in artifacts
        if a.path.startswith("index.") and a.path.endswith(".html")
    )


def site_files(artifacts: list[Artifact]) -> dict[str, tuple[bytes, datetime]]:
    """Relative path -> (bytes, time) for every file of the export."""
    files: dict[str, tuple[bytes, datetime]] = {}
    for artifact in artifacts:
        files[artifact.path] = (artifact.content, artifact.rendered_at)
    languages = _languages(artifacts)
    default = DEFAULT_LANGUAGE if DEFAULT_LANGUAGE in languages else None
    if default is None and languages:
        default = languages[0]
    if default is not None:
        # Default-language copies where any static server looks for `/`, `/stores` and
        # `/subscribe` (a directory's index.html); nginx.conf negotiates the language instead.
        for path, copy in (
            (snapshot.page_path(default), "index.html"),
            (snapshot.stores_path(default), "stores/index.html"),
            (snapshot.subscribe_path(default), "subscribe/index.html"),
        ):
            if path in files:
                files[copy] = files[path]
    for path, (content, at) in list(files.items()):
        compressed = precompressed(content)
        if compressed is not None:
            files[f"{path}.gz"] = (compressed, at)  # same time: same Last-Modified
    newest = max((a.rendered_at for a in artifacts), default=None)
    if newest is not None:
        files["_headers"] = (headers_file(languages).encode(), newest)
        files["nginx.conf"] = (nginx_snippet(languages).encode(), newest)
    return files


def headers_file(languages: list[str]) -> str:
    """Netlify / Cloudflare Pages `_headers`: the cache and CORS headers the app sends."""
    pages = ["/", "/index.html", *(f"/index.{lang}.html" for lang in languages)]
    pages += ["/stores/*", "/subscribe/*"]
    pages += [f"/{kind}.{lang}.html" for kind in ("stores", "subscribe") for lang in languages]
    lines = ["# firstword status page: response headers for static hosts that read _headers", ""]
    lines += ["/*", "  X-Content-Type-Options: nosniff", "  Referrer-Policy: same-origin", ""]
    for page in pages:
        lines += [page, f"  Cache-Control: {SHORT_CACHE}", "  X-Frame-Options: DENY", ""]
    for path in ("/api/v2/*", "/history.atom", "/history.rss", "/banner.json"):
        lines += [path, f"  Cache-Control: {SHORT_CACHE}", "  Access-Control-Allow-Origin: *", ""]
    lines += ["/banner.js", f"  Cache-Control: {LONG_CACHE}", "  Access-Control-Allow-Origin: *"]
    lines += ["", "/status.css", f"  Cache-Control: {LONG_CACHE}", ""]
    return "\n".join(lines)


# In nginx a location with any add_header of its own inherits none from the server level, so
# every location repeats these.
NGINX_COMMON_HEADERS = """\
        add_header X-Content-Type-Options nosniff always;
        add_header Referrer-Policy same-origin always;"""


def nginx_snippet(languages: list[str]) -> str:
    """An nginx configuration for the export: the same cache headers as the app, the page
    language from ?lang= then Accept-Language (first listed language), else English, and the
    export's .gz copies for clients that accept gzip."""
    alternatives = "|".join(languages) or DEFAULT_LANGUAGE
    common = NGINX_COMMON_HEADERS
    return f"""\
# firstword status page: serving a static export with nginx.
# Put the `map` block in the http {{}} context and the rest in the server {{}} of the
# status host; set `root` to the export directory.

# The page's language: ?lang= when it names one (de, de-AT, de_AT), else the first language of
# Accept-Language, else {DEFAULT_LANGUAGE}. One map, no `if`: inside `if` nginx drops try_files and
# add_header.
map "$arg_lang|$http_accept_language" $firstword_lang {{
    default "{DEFAULT_LANGUAGE}";
    "~^(?<l>{alternatives})([-_][^|]*)?\\|" $l;
    "~^[^|]*\\|\\s*(?<l>{alternatives})([-_;,\\s]|$)" $l;
}}

# server {{
    root /srv/firstword-status;   # the export directory
    gzip_static on;   # send FILE.gz (written by the export) to clients that accept gzip
    gzip_vary on;

    location = / {{
        add_header Cache-Control "{SHORT_CACHE}";
        add_header Vary Accept-Language;
        add_header Content-Language $firstword_lang;
        add_header X-Frame-Options DENY;
{common}
        try_files /index.$firstword_lang.html /index.html =404;
    }}
    # The app searches stores and takes subscriptions; the export lists every store and
    # says where to subscribe, in the reader's language.
    location ~ ^/(?<firstword_page>stores|subscribe)/?$ {{
        add_header Cache-Control "{SHORT_CACHE}";
        add_header Vary Accept-Language;
        add_header Content-Language $firstword_lang;
        add_header X-Frame-Options DENY;
{common}
        default_type text/html;
        try_files /$firstword_page.$firstword_lang.html /$firstword_page/index.html =404;
    }}
    location ~ ^/(api/v2/.*\\.json|history\\.(atom|rss)|banner\\.json)$ {{
        add_header Cache-Control "{SHORT_CACHE}";
        add_header Access-Control-Allow-Origin *;
{common}
        types {{ application/json json; application/atom+xml atom; application/rss+xml rss; }}
    }}
    location ~ ^/(banner\\.js|status\\.css)$ {{
        add_header Cache-Control "{LONG_CACHE}";
        add_header Access-Control-Allow-Origin *;
{common}
    }}
    location ~ ^/(_headers|nginx\\.conf|\\.firstword-export)$ {{ return 404; }}
# }}
"""


def _safe(relative: str) -> PurePosixPath:
    path = PurePosixPath(relative)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise InvalidInput("path", f"refusing to write {relative!r} outside the export")
    return path


def _check_destination(dest: Path) -> None:
    if dest.exists() and not dest.is_dir():
        raise InvalidInput("dir", f"{dest} exists and is not a directory")
    if dest.is_dir() and any(dest.iterdir()) and not (dest / MARKER).exists():
        raise InvalidInput(
            "dir",
            f"{dest} is not empty and not a firstword export; choose a new or empty directory "
            "(export replaces the whole directory)",
        )


def write_site(files: dict[str, tuple[bytes, datetime]], dest: Path) -> None:
    """Write `files` into a fresh directory beside `dest`, then swap it into place."""
    dest = dest.absolute()
    _check_destination(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.export-", dir=dest.parent))
    try:
        for relative, (content, at) in sorted(files.items()):
            target = staging.joinpath(*_safe(relative).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            os.utime(target, (at.timestamp(), at.timestamp()))
        (staging / MARKER).write_text("written by `firstword statuspage export`\n")
        staging.chmod(0o755)
        if dest.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
            os.replace(dest, retired / "site")
            os.replace(staging, dest)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def export_site(session: Session, dest: Path) -> ExportReport:
    """Write the stored snapshot (see snapshot.rebuild) to `dest` as a static site."""
    artifacts = snapshot.list_artifacts(session)
    if not artifacts:
        raise InvalidInput("snapshot", "nothing rendered yet; run `firstword statuspage rebuild`")
    files = site_files(artifacts)
    write_site(files, dest)
    plain = {path: content for path, (content, _) in files.items() if not path.endswith(".gz")}
    return ExportReport(
        directory=dest.absolute(),
        files=len(plain) + 1,
        bytes=sum(len(content) for content in plain.values()),
        snapshot_at=max(a.rendered_at for a in artifacts),
        languages=tuple(_languages(artifacts)),
        compressed=len(files) - len(plain),
    )
