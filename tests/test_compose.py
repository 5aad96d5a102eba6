"""docker-compose.yml and the Dockerfile agree with the code (no Docker engine runs here)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from babel_core import cli
from babel_core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
SETTINGS_ENV = {f.metadata["env"] for f in fields(Settings)}


def resolved(value: str) -> str:
    """Compose's `${NAME:-default}` and `${NAME:?message}` as they resolve with NAME unset."""
    value = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))
    return re.sub(r"\$\{[A-Z_]+:\?[^}]*\}", "set-by-the-operator", value)


def environment(service: str) -> dict[str, str]:
    return {k: resolved(v) for k, v in SERVICES[service]["environment"].items()}


def shelf_parser():
    parser, sub = cli.build_parser()
    from bot import cli as bot_cli

    add = getattr(bot_cli, "add_subcommands", None)
    if add is not None:
        add(sub)
    return parser, sub


def test_the_service_has_redis_minio_workers_and_the_bot():
    assert set(SERVICES) == {"redis", "minio", "worker", "bot"}
    for name, service in SERVICES.items():
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"][0] == "CMD", name


def test_redis_is_7_durable_and_never_evicts():
    redis = SERVICES["redis"]
    assert re.fullmatch(r"redis:7\.\d+(-alpine)?", redis["image"])
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    assert redis["volumes"] == ["redis-data:/data"] and "redis-data" in COMPOSE["volumes"]


def test_workers_and_the_bot_share_the_slip_bucket_on_minio():
    minio = SERVICES["minio"]
    assert minio["image"].startswith("minio/minio:") and minio["volumes"] == ["minio-data:/data"]
    assert "minio-data" in COMPOSE["volumes"] and "ports" not in minio
    for service in ("worker", "bot"):
        settings = Settings.from_env(environment(service))
        assert settings.slip_store == "s3://babel-slips/found"
        assert settings.s3_endpoint == "http://minio:9000"  # the minio service, by name
        assert settings.s3_access_key == resolved(minio["environment"]["MINIO_ROOT_USER"])
        assert settings.s3_secret_key == resolved(minio["environment"]["MINIO_ROOT_PASSWORD"])
        assert SERVICES[service]["depends_on"]["minio"]["condition"] == "service_healthy"


@pytest.mark.parametrize("service", ["worker", "bot"])
def test_every_variable_is_a_setting_and_parses(service):
    env = environment(service)
    assert set(env) <= SETTINGS_ENV, set(env) - SETTINGS_ENV
    settings = Settings.from_env(env)
    assert settings.redis_url == "redis://redis:6379/0"  # the redis service, by name
    assert settings.edition == "t5-small" and str(settings.data_dir) == "/data"
    for service_name in SERVICES[service]["depends_on"]:
        assert SERVICES[service]["depends_on"][service_name]["condition"] == "service_healthy"


def test_the_worker_runs_shelf_worker_on_its_gpu():
    worker = SERVICES["worker"]
    args = cli.build_parser()[0].parse_args(worker["command"])
    assert args.handler is cli.cmd_worker
    assert args.device == Settings.from_env(environment("worker")).device == "cuda"
    [gpu] = worker["deploy"]["resources"]["reservations"]["devices"]
    assert (gpu["driver"], gpu["count"], gpu["capabilities"]) == ("nvidia", 1, ["gpu"])
    assert "container_name" not in worker and "ports" not in worker  # --scale worker=N works
    check = cli.build_parser()[0].parse_args(worker["healthcheck"]["test"][2:])
    assert worker["healthcheck"]["test"][1] == "shelf" and check.check is True
    grace = int(worker["stop_grace_period"].rstrip("s"))
    assert grace > Settings.from_env(environment("worker")).job_timeout_s  # finish the job in hand


def test_the_bot_runs_shelf_bot_with_its_metrics_port_checked():
    bot = SERVICES["bot"]
    parser, sub = shelf_parser()
    if "bot" not in sub.choices:
        pytest.skip("the bot's subcommands are not merged into this branch yet")
    args = parser.parse_args(bot["command"])
    assert args.command == "bot"
    port = Settings.from_env(environment("bot")).metrics_port
    assert f"localhost:{port}/metrics" in bot["healthcheck"]["test"][-1]


def test_the_dockerfile_runs_the_shelf_script_with_settings_it_knows():
    text = (ROOT / "Dockerfile").read_text()
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert 'ENTRYPOINT ["shelf"]' in text and "shelf" in scripts
    assert 'CMD ["worker"]' in text
    env_names = set(re.findall(r"\b(BABEL_[A-Z_]+|REDIS_URL)=", text))
    assert env_names and env_names <= SETTINGS_ENV
    for service in ("worker", "bot"):
        index = SERVICES[service]["build"]["args"]["TORCH_INDEX"]
        assert index.startswith("https://download.pytorch.org/whl/")
    for copied in re.findall(r"^COPY (\S+)", text, flags=re.M):
        assert (ROOT / copied).exists(), copied
