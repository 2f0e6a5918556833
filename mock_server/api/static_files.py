"""Files the mock serves as they are (Swagger UI's, openapi.yaml): read once per change, then shared.

Why not Flask's `send_file`: it reads the file again for every request, so a few hundred clients that
ask for Swagger UI's 1.4 MB bundle and do not read the answer each held a copy (1.4 GB seen, issue #10);
here every answer refers to the same bytes. And its conditional requests (`If-Match`, `Range`) answer a
412 or a 416 whose body is the file, not a problem document; these files are small and cached by
`max-age`, so conditions are not honoured: the answer is always the whole file.
"""

from __future__ import annotations

import functools
import mimetypes
from pathlib import Path

from flask import Response
from werkzeug.security import safe_join

from mock_server.api.problems import ApiProblem


@functools.lru_cache(maxsize=64)
def _content(path: Path, mtime_ns: int, size: int) -> bytes:
    """Keyed by the file's change time and size too, so an edited file is read again."""
    return path.read_bytes()


def file_response(path: Path, mimetype: str | None = None, max_age: int | None = None) -> Response:
    """The whole file, or a 404 problem when there is no such file."""
    try:
        stat = path.stat()
        if not path.is_file():
            raise FileNotFoundError(path)
        data = _content(path, stat.st_mtime_ns, stat.st_size)
    except (OSError, ValueError):  # ValueError: a NUL in the name
        raise ApiProblem(404, "not-found", "No such file.") from None
    guessed = mimetype or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    response = Response(data, mimetype=guessed)
    if max_age is not None:
        response.cache_control.public = True
        response.cache_control.max_age = max_age
    return response


def file_in(directory: Path, name: str, max_age: int | None = None) -> Response:
    """A file below `directory` by its relative name; a name that would leave it is a 404."""
    joined = safe_join(str(directory), name)
    if joined is None:
        raise ApiProblem(404, "not-found", "No such file.")
    return file_response(Path(joined), max_age=max_age)
