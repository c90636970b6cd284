"""The compose deployment keeps the rules that need a scheduler, keeps its secrets out of the
repository and its key material apart: checked on the files, without Docker."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
EVERY = ROOT / "docker" / "every"

DAY = 24 * 60 * 60
# `${NAME}`, `${NAME:?message}`, `${NAME:-default}` and their forms without a colon.
VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
# A dated release (RELEASE.2025-09-07T16-13-09Z) or a digest is exact; a version is exact
# with all of its parts: three (python:3.11.13), but two for PostgreSQL, whose releases are
# major.minor since 10. Anything shorter (postgres:16, python:3.11) moves to newer images.
DATED = re.compile(r"\d{4}-\d{2}-\d{2}T|^sha256:")
VERSION = re.compile(r"^v?(\d+(?:\.\d+)*)")
VERSION_PARTS = {"postgres": 2}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY")


def _compose() -> dict[str, Any]:
    # safe_load resolves the x- anchors, aliases and `<<` merges as compose itself does.
    loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _services() -> dict[str, dict[str, Any]]:
    services = _compose()["services"]
    assert isinstance(services, dict)
    return services


def _strings(node: object) -> list[str]:
    """Every string of the parsed file (comments are gone: compose never reads them)."""
    if isinstance(node, dict):
        return [text for key, value in node.items() for text in (*_strings(key), *_strings(value))]
    if isinstance(node, list):
        return [text for item in node for text in _strings(item)]
    return [node] if isinstance(node, str) else []


def _variables() -> list[re.Match[str]]:
    return [match for text in _strings(_compose()) for match in VARIABLE.finditer(text)]


def _built(service: dict[str, Any]) -> bool:
    return "build" in service


def _dockerfile_env() -> dict[str, str]:
    """The image's ENV, which a built service starts from."""
    env: dict[str, str] = {}
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    for line in text.splitlines():
        if line.startswith("ENV "):
            for pair in shlex.split(line[len("ENV ") :]):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """What the container's process sees: the image's ENV, then the service's environment."""
    env = _dockerfile_env() if _built(service) else {}
    declared = service.get("environment", {})
    if isinstance(declared, list):
        declared = dict(item.partition("=")[::2] for item in declared)
    env.update({name: str(value) for name, value in declared.items()})
    return env


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def _schedules() -> dict[str, tuple[int, list[str]]]:
    """Each service that runs `every SECONDS COMMAND...`, as (SECONDS, COMMAND)."""
    schedules = {}
    for name, service in _services().items():
        command = _command(service)
        if len(command) > 2 and command[0] == "every" and command[1].isdigit():
            schedules[name] = (int(command[1]), command[2:])
    return schedules


def _named_volume_at(service: dict[str, Any], directory: str) -> str:
    """The named volume mounted on ``directory`` in ``service``; fails for anything else."""
    for mount in service.get("volumes", []):
        source, _, rest = str(mount).partition(":")
        target = rest.split(":")[0]
        if target.rstrip("/") == directory.rstrip("/"):
            assert not source.startswith((".", "/")), f"{directory} is a bind mount, not a volume"
            assert source in _compose()["volumes"], f"{source} is not a declared named volume"
            return source
    raise AssertionError(f"no volume on {directory}")


def _exact(image: str) -> bool:
    tag = _image_tag(image)
    if DATED.search(tag):
        return True
    version = VERSION.match(tag)
    name = image.split("@")[0].rsplit("/", 1)[-1].split(":")[0]
    return version is not None and version[1].count(".") + 1 >= VERSION_PARTS.get(name, 3)


def _image_tag(image: str) -> str:
    if "@sha256:" in image:
        return image.split("@", 1)[1]
    name = image.rsplit("/", 1)[-1]
    return name.partition(":")[2]


def test_every_image_pulled_is_pinned_to_an_exact_release() -> None:
    loose = {}
    for name, service in _services().items():
        if _built(service):
            continue
        if not _exact(service["image"]):
            loose[name] = service["image"]
    assert loose == {}


def test_every_built_service_runs_one_image_from_a_pinned_base() -> None:
    """The schedules run the very code the server runs, and a rebuild the same interpreter."""
    built = {name: service for name, service in _services().items() if _built(service)}
    assert {"registry", "sweep", "rights-overdue"} <= built.keys()
    images = {service.get("image") for service in built.values()}
    assert len(images) == 1, images
    (image,) = images
    assert image is not None and _image_tag(image) not in ("", "latest")
    bases = re.findall(r"^FROM\s+(\S+)", DOCKERFILE.read_text(encoding="utf-8"), re.MULTILINE)
    assert bases
    for base in bases:
        assert _exact(base), f"FROM {base} moves to newer images"


def test_r_ret_1_the_sweep_runs_on_a_schedule_with_the_servers_stores() -> None:
    """R-RET-1: recordings are erased 30 days on only if something runs the sweep. Either the
    server sweeps on an interval, or a service of its own runs `registry sweep` repeatedly;
    that service opens the record, the audit log and the blob store the server writes to,
    and comes back after a restart of the host."""
    services = _services()
    interval = float(_environment(services["registry"]).get("REGISTRY_SWEEP_INTERVAL_SECONDS", 0))
    sweepers = {
        name: seconds
        for name, (seconds, command) in _schedules().items()
        if command[:2] == ["registry", "sweep"]
    }
    assert interval > 0 or sweepers, "nothing runs the sweep"
    server = _environment(services["registry"])
    for name, seconds in sweepers.items():
        assert 0 < seconds <= DAY
        assert services[name].get("restart") in ("always", "unless-stopped")
        env = _environment(services[name])
        for setting in ("REGISTRY_DATABASE_URL", "REGISTRY_AUDIT_DATABASE_URL"):
            assert env.get(setting) == server.get(setting), setting
        for setting in {*server, *env}:
            if setting.startswith(("REGISTRY_BLOB_", "REGISTRY_VAR_DIR")):
                assert env.get(setting) == server.get(setting), setting


def test_r_dsr_2_overdue_rights_requests_are_checked_daily() -> None:
    """R-DSR-2: a request is answered within its deadline; `registry rights overdue` lists
    those past it, once a day at least, and keeps running after a restart of the host."""
    services = _services()
    checks = {
        name: seconds
        for name, (seconds, command) in _schedules().items()
        if command[:3] == ["registry", "rights", "overdue"]
    }
    assert checks, "nothing runs `registry rights overdue`"
    for name, seconds in checks.items():
        assert 0 < seconds <= DAY
        assert services[name].get("restart") in ("always", "unless-stopped")
        assert _environment(services[name]).get("REGISTRY_DATABASE_URL") == _environment(
            services["registry"]
        ).get("REGISTRY_DATABASE_URL")


def test_the_image_has_the_scheduler_the_compose_file_calls() -> None:
    assert _schedules()
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(
        r"^COPY\s+(--chmod=0?755\s+)?docker/every\s+/usr/local/bin/every$", dockerfile, re.MULTILINE
    )
    assert os.access(EVERY, os.X_OK)


def test_key_material_the_token_and_the_blobs_are_on_separate_volumes() -> None:
    services = _services()
    server = services["registry"]
    env = _environment(server)
    assert "REGISTRY_BLOB_DIR" not in env, "the blobs are in MinIO in this deployment"
    bucket = env["REGISTRY_BLOB_URL"]
    assert bucket.startswith("s3://")
    keyring_dir = str(Path(env["REGISTRY_KEYRING_FILE"]).parent)
    signing_dir = str(Path(env["REGISTRY_AUDIT_SIGNING_KEY_FILE"]).parent)
    keys = _named_volume_at(server, keyring_dir)
    assert _named_volume_at(server, signing_dir) == keys
    var = _named_volume_at(server, env["REGISTRY_VAR_DIR"])
    blobs = _named_volume_at(services["minio"], "/data")
    databases = {
        _named_volume_at(services[name], "/var/lib/postgresql/data") for name in ("db", "audit-db")
    }
    volumes = [keys, var, blobs, *databases]
    assert len(set(volumes)) == len(volumes) == 5, volumes
    # The keys decrypt the audio: no other service mounts them.
    holders = {
        name
        for name, service in services.items()
        for mount in service.get("volumes", [])
        if str(mount).split(":")[0] == keys
    }
    assert holders == {"registry"}


def test_no_secret_is_written_in_the_compose_file() -> None:
    """Every password, key and credential is a `${NAME:?}` that .env must supply."""
    inline = []
    for name, service in _services().items():
        for setting, value in _environment(service).items():
            if SECRET_NAME.search(setting) and not re.fullmatch(VARIABLE, value):
                inline.append(f"{name}: {setting}")
            for url in re.findall(r"\w+(?:\+\w+)?://[^/\s]+@", value):
                password = url.split("://", 1)[1].rsplit("@", 1)[0].partition(":")[2]
                if password and not re.fullmatch(VARIABLE, password):
                    inline.append(f"{name}: {setting} (in its URL)")
    assert inline == []


def test_env_example_names_every_variable_and_holds_no_value() -> None:
    """`cp .env.example .env` gives every name compose asks for; none has a value to reuse."""
    required = {match["name"] for match in _variables() if match["op"] in (":?", "?")}
    example: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            example[name.strip()] = value.strip()
    assert required
    assert required <= example.keys(), required - example.keys()
    assert {name: value for name, value in example.items() if value} == {}


def test_the_image_checks_its_health_and_only_the_server_is_checked() -> None:
    dockerfile = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    (check,) = re.findall(r"^HEALTHCHECK\s.*$", dockerfile, re.MULTILINE)
    # No curl in a slim image: python asks /healthz.
    assert "python" in check and "urllib" in check and "/healthz" in check
    for name, service in _services().items():
        if not _built(service):
            continue
        disabled = service.get("healthcheck", {}).get("disable", False)
        serves = _command(service) in ([], ["registry", "serve"])
        # A job or a schedule serves nothing: the image's check would call it unhealthy.
        assert disabled != serves, name


def test_dockerignore_keeps_the_virtualenv_and_var_out_of_the_image() -> None:
    patterns = {
        line.strip().strip("/")
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", "var"} <= patterns


def _start_every(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(EVERY), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _read_until(process: subprocess.Popen[str], text: str, count: int = 1) -> str:
    assert process.stdout is not None
    seen = ""
    deadline = time.monotonic() + 30
    while seen.count(text) < count:
        assert time.monotonic() < deadline, seen
        line = process.stdout.readline()
        assert line, seen
        seen += line
    return seen


def test_every_runs_at_once_then_again_after_each_pause() -> None:
    process = _start_every("1", "echo", "tick")
    try:
        seen = _read_until(process, "exit status 0: echo tick", count=2)
    finally:
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=30)
    assert seen.count("\ntick\n") == 2
    assert process.returncode == 0
    assert rest.rstrip().endswith("every: stopped")


def test_every_lets_a_run_finish_when_stopped_and_logs_a_failure() -> None:
    process = _start_every("3600", "sh", "-c", "echo started; sleep 1; echo finished; exit 3")
    try:
        _read_until(process, "started")
    finally:
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=30)
    assert "finished" in rest and "exit status 3" in rest
    assert "running" not in rest, "it ran again after being stopped"
    assert process.returncode == 0


def test_every_refuses_an_interval_of_nothing() -> None:
    done = subprocess.run([str(EVERY), "0", "true"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 64
    assert "above 0" in done.stderr


def _compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    version = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=60)
    return version.returncode == 0


def test_docker_compose_accepts_the_file() -> None:
    if not _compose_available():
        pytest.skip("`docker compose` is not installed here; the checks above read the file")
    placeholders = {match["name"]: "placeholder-value-0123456789" for match in _variables()}
    done = subprocess.run(
        ["docker", "compose", "--file", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **placeholders},
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
