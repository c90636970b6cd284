"""A real S3-compatible server for the tests: moto's, on loopback, in a process of its own.

A process of its own, so that memory measured in a test is the registry's alone, and the
server's work takes no turns from the event loop under test. It comes with the dev extras,
so these tests run wherever the suite does.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from registry.blobs import S3BlobStore

# Port 0: the system picks a free one, which the child tells on its first line. It runs
# until its standard input closes, which happens too if the tests die.
_SERVER = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer("127.0.0.1", 0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""
# moto takes any credentials; these only have to be the same on both sides.
REGION, ACCESS_KEY, SECRET_KEY = "eu-west-1", "test-access-key", "test-secret-key"
PREFIX = "recordings"


@dataclass
class S3Server:
    endpoint: str
    client: Any  # boto3's S3 client: to look at the bucket behind the store's back

    def new_bucket(self) -> str:
        bucket = f"test-{uuid.uuid4().hex[:12]}"
        self.client.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        return bucket

    def settings(self, bucket: str, prefix: str = PREFIX) -> dict[str, Any]:
        """The registry's settings (as keyword arguments) for the bucket on this server."""
        return {
            "blob_url": f"s3://{bucket}/{prefix}",
            "blob_s3_endpoint": self.endpoint,
            "blob_s3_region": REGION,
            "blob_s3_access_key_id": ACCESS_KEY,
            "blob_s3_secret_access_key": SECRET_KEY,
            "blob_s3_allow_http": True,
        }

    def environment(self, bucket: str) -> dict[str, str]:
        """The same settings as ``REGISTRY_*`` variables, as the commands read them."""
        return {
            f"REGISTRY_{name.upper()}": str(value).lower() if isinstance(value, bool) else value
            for name, value in self.settings(bucket).items()
        }

    def store(self, bucket: str, prefix: str = PREFIX) -> S3BlobStore:
        return S3BlobStore(
            f"s3://{bucket}/{prefix}",
            endpoint=self.endpoint,
            region=REGION,
            access_key_id=ACCESS_KEY,
            secret_access_key=SECRET_KEY,
            allow_http=True,
        )

    def objects(self, bucket: str) -> dict[str, bytes]:
        """Every object in the bucket, whatever its prefix."""
        listed = self.client.list_objects_v2(Bucket=bucket).get("Contents", [])
        return {
            item["Key"]: self.client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            for item in listed
        }

    def incomplete_uploads(self, bucket: str) -> list[str]:
        """Keys of multipart uploads begun and neither completed nor aborted."""
        uploads = self.client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        return sorted(upload["Key"] for upload in uploads)


@contextmanager
def running_s3_server(folder: Path) -> Iterator[S3Server]:
    log = folder / "moto.log"
    with log.open("wb") as errors:
        child = subprocess.Popen(
            [sys.executable, "-c", _SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
        )
    assert child.stdin is not None and child.stdout is not None
    try:
        port = child.stdout.readline().strip()
        if not port:
            raise RuntimeError(f"the S3 server did not start: {log.read_text()}")
        endpoint = f"http://127.0.0.1:{int(port)}"
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )
        yield S3Server(endpoint, client)
    finally:
        child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        child.stdout.close()
