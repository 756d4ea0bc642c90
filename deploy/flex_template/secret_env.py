"""NCBI api key from Secret Manager into ``NCBI_API_KEY``, for the Flex Template launcher.

A Dataflow launch request carries no environment, and the key must not be a template
parameter (parameters are stored with the job and shown in the console). The image therefore
names the secret in ``NCBI_API_KEY_SECRET`` (``projects/P/secrets/S/versions/V``, not the key
itself) and installs this module as ``leadsinstruct_secret_env`` with a ``.pth`` file that calls
``main()``, so that it runs when the launcher starts ``python .../pipelines/refresh.py``. It acts only for
that script, only when ``NCBI_API_KEY_SECRET`` is set and ``NCBI_API_KEY`` is not, and reads
the secret with the launcher's service account. A secret that cannot be read stops the launch.
"""
from __future__ import annotations

import base64
import os
import re
import sys
from typing import Callable, MutableMapping, Sequence

SECRET_VAR = "NCBI_API_KEY_SECRET"
KEY_VAR = "NCBI_API_KEY"
SCRIPT_SUFFIX = "pipelines/refresh.py"
SECRET_VERSION_NAME = re.compile(r"^projects/[^/]+/secrets/[^/]+/versions/[^/]+$")
SECRET_MANAGER = "https://secretmanager.googleapis.com/v1/"


def access_secret_version(name: str) -> bytes:
    """The payload of a secret version (Secret Manager REST ``versions.access``)."""
    import google.auth
    from google.auth.transport.requests import AuthorizedSession

    credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    response = AuthorizedSession(credentials).get(f"{SECRET_MANAGER}{name}:access", timeout=30)
    response.raise_for_status()
    return base64.b64decode(response.json()["payload"]["data"])


def export_api_key(environ: MutableMapping[str, str], argv: Sequence[str],
                   access: Callable[[str], bytes] | None = None) -> bool:
    """Set ``environ[NCBI_API_KEY]`` from the secret named by ``environ[NCBI_API_KEY_SECRET]``,
    read with ``access`` (default ``access_secret_version``).

    Returns whether it did; raises ``ValueError`` for a malformed secret name or an empty secret.
    """
    name = environ.get(SECRET_VAR, "").strip()
    if not name or environ.get(KEY_VAR) or not argv or not argv[0].endswith(SCRIPT_SUFFIX):
        return False
    if not SECRET_VERSION_NAME.match(name):
        raise ValueError(f"{SECRET_VAR}={name!r} is not projects/<project>/secrets/<secret>/versions/<version>")
    key = (access or access_secret_version)(name).decode("utf-8").strip()
    if not key:
        raise ValueError(f"secret {name} is empty")
    environ[KEY_VAR] = key
    return True


def main() -> None:
    try:
        export_api_key(os.environ, sys.argv)
    except Exception as e:  # any failure must stop the launch with a readable reason
        sys.stderr.write(f"leadsinstruct: cannot read the NCBI api key from Secret Manager "
                         f"({SECRET_VAR}): {type(e).__name__}: {e}\n")
        raise SystemExit(2) from None
