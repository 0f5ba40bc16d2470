"""Where tenants' configurations live: the adapter interface and a directory of JSON documents.

Provisioning (`ballast.runtime.provision`) reads a tenant's configuration and writes it back
through a `ConfigAdapter`, so a config-center API can stand in for files. Every write is a
compare-and-swap on the version its caller read: when another writer got there first the write
fails with `VersionConflict` and the caller reads again, so two provisioning runs on one tenant
can never interleave into a state neither would have produced alone.

`FileConfigAdapter` keeps one JSON document per tenant in a directory, `<tenant>.json`:

    {"tenant": "acme", "class": "standard", "version": 3, "settings": {"mfa": "required", …}}

A write takes an exclusive lock on `<tenant>.json.lock` (flock), checks the version on disk,
writes a temporary file, fsyncs it and renames it over the document (`os.replace` is atomic), then
fsyncs the directory: a reader sees the old document or the new one, never half of one, and a
crash leaves one of the two.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ballast.runtime.errors import UsageError

TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
MAX_DOCUMENT_BYTES = 8 * 1024 * 1024  # a tenant's configuration is small; a bigger file is a mistake


class UnknownTenant(UsageError):
    """The adapter holds no configuration for the tenant."""


class VersionConflict(UsageError):
    """Another writer changed the tenant's configuration since the caller read it."""


@dataclass
class TenantConfig:
    """One tenant's configuration: its class (which change window applies) and its settings."""

    tenant: str
    tenant_class: str
    settings: dict[str, Any] = field(default_factory=dict)

    def to_json(self, version: int) -> dict[str, Any]:
        return {"tenant": self.tenant, "class": self.tenant_class, "version": version, "settings": self.settings}


class ConfigAdapter(Protocol):
    """Reads and writes tenants' configurations, with compare-and-swap on a version."""

    def read(self, tenant: str) -> tuple[TenantConfig, int]:
        """The tenant's configuration and its version; raises UnknownTenant."""
        ...

    def write(self, tenant: str, config: TenantConfig, expected_version: int | None) -> int:
        """Store `config` if the stored version is still `expected_version` (None: the tenant must
        not exist yet) and return the new version; raises VersionConflict otherwise."""
        ...


def check_tenant_name(tenant: str) -> str:
    """`tenant` if it is a valid tenant name (it becomes a file name); raises UsageError."""
    if not TENANT_NAME.fullmatch(tenant):
        raise UsageError(
            f"tenant {tenant!r} is not a tenant name: use letters, digits, '.', '_' and '-' (at most 128, not starting with '.')"
        )
    return tenant


class FileConfigAdapter:
    """Tenants' configurations as `<tenant>.json` documents in one directory."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = os.fspath(directory)
        if not os.path.isdir(self.directory):
            raise UsageError(f"{self.directory}: not a directory (the tenants' configuration directory)")

    def path(self, tenant: str) -> str:
        return os.path.join(self.directory, check_tenant_name(tenant) + ".json")

    def read(self, tenant: str) -> tuple[TenantConfig, int]:
        path = self.path(tenant)
        try:
            with open(path, "rb") as f:
                raw = f.read(MAX_DOCUMENT_BYTES + 1)
        except FileNotFoundError:
            raise UnknownTenant(
                f"no tenant {tenant!r} in {self.directory} (no {os.path.basename(path)}); "
                "`ballast profile apply` creates it"
            ) from None
        except OSError as exc:
            raise UsageError(f"{path}: cannot read it: {exc.strerror or exc}") from None
        return parse_tenant_document(raw, path, tenant)

    def write(self, tenant: str, config: TenantConfig, expected_version: int | None) -> int:
        path = self.path(tenant)
        try:
            return self._write(path, tenant, config, expected_version)
        except OSError as exc:  # a read-only or full directory: say where, never a traceback
            raise UsageError(f"{path}: cannot write it: {exc.strerror or exc}") from None

    def _write(self, path: str, tenant: str, config: TenantConfig, expected_version: int | None) -> int:
        with self._locked(path):
            current = self._version(path, tenant)
            if current != expected_version:
                raise VersionConflict(
                    f"tenant {tenant!r} changed while this run was planning: it is at version {current}, "
                    f"this run read {expected_version}"
                )
            version = 1 if current is None else current + 1
            data = (json.dumps(config.to_json(version), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
            fd, temporary = tempfile.mkstemp(prefix=f".{tenant}.", suffix=".tmp", dir=self.directory)
            try:
                with os.fdopen(fd, "wb") as f:
                    os.fchmod(f.fileno(), 0o644)  # mkstemp's 0600 would hide the tenant from its readers
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(temporary, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
            self._sync_directory()
            return version

    def _version(self, path: str, tenant: str) -> int | None:
        try:
            return self.read(tenant)[1]
        except UnknownTenant:
            return None

    @contextlib.contextmanager
    def _locked(self, path: str) -> Iterator[None]:
        # A lock file beside the document, not the document itself: os.replace swaps the
        # document's inode, and a lock on the old inode would not exclude the next writer.
        with open(path + ".lock", "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _sync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def parse_tenant_document(raw: bytes, path: str, tenant: str) -> tuple[TenantConfig, int]:
    """A tenant document's configuration and version; raises UsageError naming what is wrong."""
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise UsageError(f"{path}: larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB: not a tenant configuration")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text: a tenant configuration is a JSON document") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    if not isinstance(data, Mapping):
        raise UsageError(f'{path}: a tenant document is a JSON object {{"class": …, "version": …, "settings": {{…}}}}')
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise UsageError(f"{path}: 'version' must be a whole number from 1, got {json.dumps(version)}")
    settings = data.get("settings")
    if not isinstance(settings, Mapping):
        raise UsageError(f"{path}: 'settings' must be a JSON object of setting names to values")
    tenant_class = data.get("class", "")
    if not isinstance(tenant_class, str):
        raise UsageError(f"{path}: 'class' must be a string (the tenant class), got {json.dumps(tenant_class)}")
    return TenantConfig(tenant, tenant_class, dict(settings)), version
