"""The one place that turns the settings into a blob store, for the server and the commands."""

from __future__ import annotations

from registry.blobs.local import LocalBlobStore
from registry.blobs.protocol import BlobStore
from registry.blobs.s3 import S3BlobStore
from registry.settings import Settings


def open_blob_store(settings: Settings) -> BlobStore:
    """The bucket of ``REGISTRY_BLOB_URL`` if it is set; otherwise the local folder."""
    if settings.blob_url is None:
        return LocalBlobStore(settings.resolved_blob_dir)
    secret = settings.blob_s3_secret_access_key
    return S3BlobStore(
        settings.blob_url,
        endpoint=settings.blob_s3_endpoint,
        region=settings.blob_s3_region,
        access_key_id=settings.blob_s3_access_key_id,
        secret_access_key=None if secret is None else secret.get_secret_value(),
        allow_http=settings.blob_s3_allow_http,
    )
