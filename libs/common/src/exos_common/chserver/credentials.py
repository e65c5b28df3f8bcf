"""Who may use the embedded ClickHouse server: one user and a password, checked the way
ClickHouse's HTTP interface takes them (Basic auth, X-ClickHouse-User/-Key headers, or the
`user`/`password` URL parameters), with a constant-time comparison.

The password lives in a file readable by its owner only. When the file does not exist it
is generated on first start, so a fresh server is never open.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_USER = "default"  # ClickHouse's user when a request names none
PASSWORD_FILE_NAME = "password"
PASSWORD_BYTES = 24  # 32 URL-safe characters


@dataclass(frozen=True, slots=True)
class Credentials:
    user: str
    password: str

    def admits(self, user: str | None, password: str | None) -> bool:
        """Both compared in constant time, so timing tells an attacker nothing."""
        user_ok = hmac.compare_digest((user or DEFAULT_USER).encode(), self.user.encode())
        password_ok = hmac.compare_digest((password or "").encode(), self.password.encode())
        return user_ok and password_ok


def default_password_file(data_dir: Path) -> Path:
    """Next to the database it protects: `<data>/password`."""
    return data_dir / PASSWORD_FILE_NAME


def load_or_create_password(path: Path) -> str:
    """The password in `path` (first line, stripped); a new random one written with mode
    0600 when the file does not exist. An existing empty file is refused: an empty
    password would leave the server open."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return _create(path)
    password = text.strip()
    if not password:
        raise ValueError(f"password file {path} is empty")
    return password


def _create(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(PASSWORD_BYTES)
    # Written whole to a private temporary file, then linked into place: the link fails if
    # the file exists, so two first starts never overwrite each other's password, and no
    # reader ever sees a half-written file.
    fd, temporary = tempfile.mkstemp(prefix=".password-", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(password + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return load_or_create_password(path)
    finally:
        os.unlink(temporary)
    return password


def request_credentials(
    headers: Mapping[str, str], params: Mapping[str, str]
) -> tuple[str | None, str | None]:
    """(user, password) as a request presents them, in ClickHouse's order: the
    X-ClickHouse headers, then Basic auth, then URL parameters."""
    if "x-clickhouse-user" in headers or "x-clickhouse-key" in headers:
        return headers.get("x-clickhouse-user"), headers.get("x-clickhouse-key")
    authorization = headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        user, _, password = decoded.partition(":")
        return user, password
    return params.get("user"), params.get("password")
