"""Where the bytes of sealed recordings live: a blob store.

Blobs are streamed in and out in bounded chunks, so memory does not grow with their size.
The store only ever sees ciphertext: audio is sealed before it gets here (``registry.crypto``).

Two stores keep the one ``BlobStore`` protocol: ``LocalBlobStore``, a folder (the embedded
default, ``./var/blobs/``), and ``S3BlobStore``, a bucket of S3-compatible object storage
(production). ``open_blob_store`` picks the one the settings name.
"""

from registry.blobs.factory import open_blob_store
from registry.blobs.local import LocalBlobStore
from registry.blobs.protocol import CHUNK_BYTES, BlobMissing, BlobStore
from registry.blobs.s3 import S3BlobStore

__all__ = [
    "CHUNK_BYTES",
    "BlobMissing",
    "BlobStore",
    "LocalBlobStore",
    "S3BlobStore",
    "open_blob_store",
]
