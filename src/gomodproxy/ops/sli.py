"""The download-success SLI: is one ``.info``/``.mod``/``.zip`` response a success or a failure?

Definition (docs/operations.md, deploy/prometheus/rules.yml): module download success ratio =
successful ``.info``/``.mod``/``.zip`` responses over all such responses. The question is
"did we give the go command the right answer?", not "was the status 2xx?":

- success: 2xx, 304, 206/416; a 404/410 because the version does not exist (``NotFound``);
  a 400/404 for a malformed path or version (the client asked for something invalid); a
  401/403/404 refusal by access control (the right answer to that client).
- failure: anything caused by us or an upstream fault: 5xx, timeouts, an upstream error even
  when it is answered as 404 (``upstream_error_status = 404`` lets ``,direct`` work, but the
  download failed), a checksum-database refusal (the upstream served bad bytes), storage
  errors, and 429 (rate limits stop builds: operators must see it).

Pure: no I/O; the server calls :func:`classify` for every response.
"""

from __future__ import annotations

from gomodproxy.errors import InvalidInput, NotFound

#: The artifacts the SLI counts (route names of ``service/requests.py``).
DOWNLOAD_ARTIFACTS = frozenset({"info", "mod", "zip"})
SUCCESS = "success"
FAILURE = "failure"

METRIC = "gomodproxy_download_responses_total"
METRIC_HELP = (
    "Module downloads (.info, .mod, .zip) answered, by SLI outcome: success includes a "
    "correct 404/410 for a version that does not exist; failure is our or an upstream fault."
)


def classify(status: int, exc: BaseException | None = None) -> str:
    """``"success"`` or ``"failure"`` for one download response.

    ``exc`` is the error the response was made from, if any: with it a 404 that hides an
    upstream fault is told apart from a 404 for a version that does not exist.
    """
    if exc is not None:
        if isinstance(exc, NotFound | InvalidInput):
            return SUCCESS if status < 500 else FAILURE
        return FAILURE
    if status >= 500 or status == 429:
        return FAILURE
    return SUCCESS
