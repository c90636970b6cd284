FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

COPY pyproject.toml constraints.txt README.md ./
COPY registry/ registry/
COPY seeds/ seeds/

RUN pip install --no-cache-dir -c constraints.txt . \
    && useradd --system --create-home --home-dir /home/registry --shell /usr/sbin/nologin registry \
    && mkdir -p /var/lib/registry \
    && chown registry:registry /var/lib/registry

# The package is installed into site-packages; its seeds stay here.
ENV REGISTRY_VAR_DIR=/var/lib/registry \
    REGISTRY_SEEDS_DIR=/app/seeds

USER registry

EXPOSE 8000

CMD ["registry", "serve", "--host", "0.0.0.0", "--port", "8000"]
