# An exact Python release on an exact Debian: a rebuild gets the same interpreter.
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

COPY pyproject.toml constraints.txt README.md ./
COPY registry/ registry/
COPY seeds/ seeds/
# The image has no cron: the compose file schedules the sweep and the daily check with this.
COPY --chmod=0755 docker/every /usr/local/bin/every

# Key material and the rest of var/ in two directories, so that each can be a volume of its
# own: the keys are what decrypts the audio, and are backed up and guarded apart from it.
# A named volume mounted on an empty one takes its owner and mode from the image.
RUN pip install --no-cache-dir -c constraints.txt . \
    && useradd --system --create-home --home-dir /home/registry --shell /usr/sbin/nologin registry \
    && mkdir -p /var/lib/registry /var/lib/registry-keys \
    && chown registry:registry /var/lib/registry /var/lib/registry-keys \
    && chmod 0700 /var/lib/registry /var/lib/registry-keys

# The package is installed into site-packages; its seeds stay here.
ENV REGISTRY_VAR_DIR=/var/lib/registry \
    REGISTRY_KEYRING_FILE=/var/lib/registry-keys/keyring.json \
    REGISTRY_AUDIT_SIGNING_KEY_FILE=/var/lib/registry-keys/audit-signing.key \
    REGISTRY_SEEDS_DIR=/app/seeds

USER registry

EXPOSE 8000

# Liveness of the server only (/healthz), not /readyz: a database that is down is not
# mended by restarting the registry. curl is not in the image; python is.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]

CMD ["registry", "serve", "--host", "0.0.0.0", "--port", "8000"]
