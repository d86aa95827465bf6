"""Resolving the warehouse URI to an fsspec filesystem and a root path inside it."""

from __future__ import annotations

from typing import Any

import fsspec
from fsspec.core import url_to_fs

from causality.config import Settings


def storage_options(settings: Settings) -> dict[str, Any]:
    """fsspec options for the warehouse URI; S3 endpoint and credentials come from settings."""
    if not settings.warehouse.startswith(("s3://", "s3a://")):
        return {}
    options: dict[str, Any] = {}
    if settings.s3_access_key_id:
        options["key"] = settings.s3_access_key_id
        options["secret"] = settings.s3_secret_access_key
    client_kwargs: dict[str, Any] = {}
    if settings.s3_endpoint_url:
        client_kwargs["endpoint_url"] = settings.s3_endpoint_url
    if settings.s3_region:
        client_kwargs["region_name"] = settings.s3_region
    if client_kwargs:
        options["client_kwargs"] = client_kwargs
    return options


def open_warehouse(settings: Settings) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem and root path (without protocol) of the warehouse; local roots are created."""
    fs, root = url_to_fs(settings.warehouse, **storage_options(settings))
    root = root.rstrip("/")
    if is_local(fs):
        fs.makedirs(root, exist_ok=True)
    return fs, root


def is_local(fs: fsspec.AbstractFileSystem) -> bool:
    """Local filesystems can rename atomically; object stores publish a file on upload."""
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol in {"file", "local"}
