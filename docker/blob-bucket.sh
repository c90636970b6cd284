#!/bin/sh
# The one-shot `blob-bucket` service (MinIO's client image): makes the bucket the registry
# keeps its sealed audio in, and the registry's own MinIO user, allowed that bucket's
# objects under blobs/ and nothing else (docker/blob-policy.json), so the root credentials
# stay with MinIO. Run at every `docker compose up`, so each step must be safe to repeat.
set -eu
: "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}" "${BLOB_ACCESS_KEY_ID:?}" "${BLOB_SECRET_ACCESS_KEY:?}"

mc alias set store http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing store/registry
# Adding a user that exists sets its secret: a new one in .env takes effect here.
mc admin user add store "$BLOB_ACCESS_KEY_ID" "$BLOB_SECRET_ACCESS_KEY"
mc admin policy create store registry-blobs /blob-policy.json
# Attaching a policy the user already has is refused by MinIO: that refusal is success.
if ! mc admin policy attach store registry-blobs --user "$BLOB_ACCESS_KEY_ID"; then
    case $(mc admin user info store "$BLOB_ACCESS_KEY_ID") in
        *registry-blobs*) echo "registry-blobs is attached already" ;;
        *) exit 1 ;;
    esac
fi
echo "bucket registry ready for user $BLOB_ACCESS_KEY_ID"
