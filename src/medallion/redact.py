"""Remove secrets from text before it reaches a log, an alert or an artifact.

One place so every outgoing string (alert bodies, dbt messages kept in XCom, log lines) is
scrubbed the same way: known secret values from the environment and Airflow connections,
plus URL credentials and webhook tokens recognised by shape.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from urllib.parse import unquote, urlsplit

MASK = "***"

_SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|WEBHOOK|PRIVATE_KEY)", re.I)
_SECRET_CONN = re.compile(r"^AIRFLOW_CONN_", re.I)
_PATTERNS = (
    # scheme://user:password@host -> scheme://user:***@host
    (
        re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+(?=@)", re.I),
        r"\g<head>" + MASK,
    ),
    # Slack / Teams style webhook paths carry the token in the path.
    (re.compile(r"(hooks\.slack\.com/services/)[A-Za-z0-9/_-]+"), r"\1" + MASK),
    (re.compile(r"(webhook\.office\.com/webhookb2/)\S+"), r"\1" + MASK),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]+"), MASK),
)
# Values shorter than this are not treated as secrets: masking "1" or "true" would mangle text.
_MIN_SECRET_LEN = 6


def _connection_secrets(value: str) -> set[str]:
    """The password (and whole URI) of an ``AIRFLOW_CONN_*`` value in JSON or URI form."""
    found = {value}
    try:
        data = json.loads(value)
    except ValueError:
        data = None
    if isinstance(data, dict):
        found.add(str(data.get("password") or ""))
    else:
        try:
            password = urlsplit(value).password
        except ValueError:
            password = None
        if password:
            found.update({password, unquote(password)})
    return found


def secret_values(
    env: Mapping[str, str] | None = None, extra: Iterable[str | None] = ()
) -> list[str]:
    """Values of secret-looking environment variables and connection passwords, longest first."""
    env = os.environ if env is None else env
    values: set[str] = set()
    for name, value in env.items():
        if not value:
            continue
        if _SECRET_CONN.match(name):
            values |= _connection_secrets(value)
        elif _SECRET_NAME.search(name):
            values.add(value)
    values.update(v for v in extra if v)
    return sorted((v for v in values if len(v) >= _MIN_SECRET_LEN), key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str] | None = None) -> str:
    """Mask every known secret and every credential-shaped substring of ``text``."""
    if not text:
        return text
    for value in secret_values() if secrets is None else secrets:
        if value and len(value) >= _MIN_SECRET_LEN:
            text = text.replace(value, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
