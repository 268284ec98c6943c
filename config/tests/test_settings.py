"""Settings as each environment loads them. Where a test needs different environment variables, it runs Django in a
subprocess: settings are read once per process."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings.base import MAIL_BACKENDS, mailer_from_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# Variables that would change what the settings under test read, removed so the machine's own do not leak in.
_SETTINGS_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "EMAIL_URL",
    "EMAIL_HOST",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "MODELMARKET_ENV",
    "DJANGO_SETTINGS_MODULE",
    "SENTRY_DSN",
    # Set by the browser tests in this same process; a deployment check rightly fails on it.
    "DJANGO_ALLOW_ASYNC_UNSAFE",
)


def run_django(args: list[str], tmp_path: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in _SETTINGS_VARIABLES}
    env.update(MODELMARKET_VAR_DIR=str(tmp_path), **environment)
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    script = (
        "import django; django.setup();"
        "from django.db import connection;"
        "cursor = connection.cursor();"
        "print(cursor.execute('PRAGMA journal_mode').fetchone()[0]);"
        "print(cursor.execute('PRAGMA busy_timeout').fetchone()[0])"
    )

    result = run_django(["-c", script], tmp_path, DJANGO_SETTINGS_MODULE="config.settings.base")

    assert result.returncode == 0, result.stderr
    journal_mode, busy_timeout_ms = result.stdout.split()
    assert journal_mode == "wal"
    assert int(busy_timeout_ms) >= 5000
    assert (tmp_path / "modelmarket.sqlite3").exists()


def test_production_settings_pass_the_deploy_check_without_warnings(tmp_path):
    result = run_django(
        [
            "manage.py",
            "check",
            "--deploy",
            "--fail-level",
            "WARNING",
            "--settings=config.settings.production",
        ],
        tmp_path,
        MODELMARKET_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="example.com",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr


@pytest.mark.parametrize("secret_key", [None, "too-short"])
def test_production_without_a_proper_secret_key_fails_clearly(tmp_path, secret_key):
    environment = {"MODELMARKET_ENV": "production", "ALLOWED_HOSTS": "example.com"}
    if secret_key is not None:
        environment["SECRET_KEY"] = secret_key

    result = run_django(
        ["manage.py", "check", "--settings=config.settings.production"], tmp_path, **environment
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is required in production" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_production_refuses_debug(tmp_path):
    result = run_django(
        ["manage.py", "check", "--settings=config.settings.production"],
        tmp_path,
        MODELMARKET_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(50),
        DEBUG="1",
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured: DEBUG must be off in production" in result.stderr


def test_development_generates_a_secret_key_once_and_keeps_it(tmp_path):
    script = "from django.conf import settings; print(settings.SECRET_KEY)"
    first = run_django(["-c", script], tmp_path, DJANGO_SETTINGS_MODULE="config.settings.base")
    second = run_django(["-c", script], tmp_path, DJANGO_SETTINGS_MODULE="config.settings.base")

    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert len(first.stdout.strip()) >= 50
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"


def test_email_url_smtp_with_starttls():
    assert mailer_from_url("smtp://mailer:p%40ss@mail.example.com:587?tls=1") == {
        "BACKEND": MAIL_BACKENDS["smtp"],
        "OPTIONS": {
            "host": "mail.example.com",
            "port": 587,
            "username": "mailer",
            "password": "p@ss",
            "use_ssl": False,
            "use_tls": True,
            "timeout": 10,
        },
    }


def test_email_url_smtp_defaults_to_port_25_without_tls():
    options = mailer_from_url("smtp://relay.internal")["OPTIONS"]
    assert options == {
        "host": "relay.internal",
        "port": 25,
        "username": "",
        "password": "",
        "use_ssl": False,
        "use_tls": False,
        "timeout": 10,
    }


def test_email_url_smtps_uses_implicit_tls_on_465():
    mailer = mailer_from_url("smtps://apikey:s3cret@smtp.example.com")
    assert mailer["BACKEND"] == MAIL_BACKENDS["smtps"]
    assert mailer["OPTIONS"] == {
        "host": "smtp.example.com",
        "port": 465,
        "username": "apikey",
        "password": "s3cret",
        "use_ssl": True,
        "use_tls": False,
        "timeout": 10,
    }


def test_email_url_file_writes_to_the_path():
    assert mailer_from_url("file:///var/spool/modelmarket-mail") == {
        "BACKEND": MAIL_BACKENDS["file"],
        "OPTIONS": {"file_path": "/var/spool/modelmarket-mail"},
    }


def test_email_url_with_an_unknown_scheme_is_refused():
    with pytest.raises(ValueError, match="EMAIL_URL scheme must be one of"):
        mailer_from_url("sendgrid://key@api")


def test_with_redis_the_job_queue_and_the_gateway_start(tmp_path):
    # Nothing here connects: building Huey's Redis storage and the gateway's Redis client only parses the settings.
    script = (
        "import django; django.setup();"
        "from huey.contrib.djhuey import HUEY;"
        "pool = HUEY.storage.conn.connection_pool;"
        "print(type(HUEY.storage).__name__, pool.connection_kwargs['socket_timeout'], pool.connection_kwargs['db']);"
        "from modelmarket.inference.gateway.app import _redis_client;"
        "print(type(_redis_client()).__module__)"
    )

    result = run_django(
        ["-c", script],
        tmp_path,
        DJANGO_SETTINGS_MODULE="config.settings.base",
        REDIS_URL="redis://127.0.0.1:6399/3",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["PriorityRedisStorage", "5.0", "3", "modelmarket.core.redis"]


def test_a_gateway_only_process_loads_only_what_the_gateway_needs(tmp_path):
    script = (
        "import sys, django; django.setup();"
        "from modelmarket.inference.gateway.app import build_app; build_app();"
        "from modelmarket.inference.providers import provider_for;"
        "[provider_for(name) for name in ('openai_compatible', 'huggingface', 'replicate')];"
        "print(sorted(name for name in ('ninja', 'huey', 'django.contrib.admin') if name in sys.modules))"
    )

    result = run_django(["-c", script], tmp_path, DJANGO_SETTINGS_MODULE="config.settings.gateway")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
