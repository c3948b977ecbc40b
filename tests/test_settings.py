"""Settings: every BENCHGEN_* variable read once into one typed object, errors naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchgen import db, settings, storage
from benchgen.errors import UsageError
from benchgen.retry import RetryPolicy
from benchgen.settings import Settings, SettingsError, StorageSettings

VARIABLES = [
    "BENCHGEN_CACHE_DIR",
    "BENCHGEN_S3_ENDPOINT_URL",
    "BENCHGEN_S3_CONNECT_TIMEOUT_S",
    "BENCHGEN_S3_READ_TIMEOUT_S",
    "BENCHGEN_S3_OPERATION_TIMEOUT_S",
    "BENCHGEN_UPLOAD_ATTEMPTS",
    "BENCHGEN_UPLOAD_BASE_DELAY_S",
    "BENCHGEN_UPLOAD_MAX_DELAY_S",
    "BENCHGEN_DB_RETRY_ATTEMPTS",
    "BENCHGEN_DB_RETRY_BASE_DELAY_S",
    "BENCHGEN_DB_RETRY_MAX_DELAY_S",
    "BENCHGEN_LEASE_TTL_S",
]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return monkeypatch


def test_defaults_without_variables(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    read = Settings.from_env()
    assert read == Settings()
    assert read.cache_dir == tmp_path / "home" / ".cache" / "benchgen"
    assert read.storage == StorageSettings(connect_timeout_s=10, read_timeout_s=60, operation_timeout_s=300)
    assert read.upload_retry == RetryPolicy(attempts=6, base_delay_s=0.5, max_delay_s=8)
    assert read.db_retry == RetryPolicy(attempts=8, base_delay_s=0.5, max_delay_s=8)
    assert read.lease_ttl_s == 60


def test_every_documented_variable_overrides_its_setting(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    values = {
        "BENCHGEN_CACHE_DIR": str(tmp_path / "cache"),
        "BENCHGEN_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
        "BENCHGEN_S3_CONNECT_TIMEOUT_S": "2.5",
        "BENCHGEN_S3_READ_TIMEOUT_S": "7",
        "BENCHGEN_S3_OPERATION_TIMEOUT_S": "30",
        "BENCHGEN_UPLOAD_ATTEMPTS": "2",
        "BENCHGEN_UPLOAD_BASE_DELAY_S": "0.1",
        "BENCHGEN_UPLOAD_MAX_DELAY_S": "1",
        "BENCHGEN_DB_RETRY_ATTEMPTS": "3",
        "BENCHGEN_DB_RETRY_BASE_DELAY_S": "0.2",
        "BENCHGEN_DB_RETRY_MAX_DELAY_S": "4",
        "BENCHGEN_LEASE_TTL_S": "5",
    }
    assert sorted(values) == sorted(VARIABLES)
    for name, value in values.items():
        clean_env.setenv(name, value)
    read = Settings.from_env()
    assert read.cache_dir == tmp_path / "cache"
    assert read.storage == StorageSettings(
        endpoint_url="http://127.0.0.1:9000", connect_timeout_s=2.5, read_timeout_s=7, operation_timeout_s=30
    )
    assert read.upload_retry == RetryPolicy(attempts=2, base_delay_s=0.1, max_delay_s=1)
    assert read.db_retry == RetryPolicy(attempts=3, base_delay_s=0.2, max_delay_s=4)
    assert read.lease_ttl_s == 5
    # The helpers for callers handed no settings read the same values.
    assert settings.default_cache_dir() == tmp_path / "cache"
    assert db.retry_policy() == read.db_retry
    assert StorageSettings.from_env() == read.storage


def test_unset_and_empty_variables_keep_each_policys_own_defaults(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("BENCHGEN_DB_RETRY_ATTEMPTS", "2")
    clean_env.setenv("BENCHGEN_UPLOAD_BASE_DELAY_S", "")
    clean_env.setenv("BENCHGEN_UPLOAD_MAX_DELAY_S", "2.5")
    read = Settings.from_env()
    assert read.db_retry == RetryPolicy(attempts=2, base_delay_s=0.5, max_delay_s=8)
    assert read.upload_retry == RetryPolicy(attempts=6, base_delay_s=0.5, max_delay_s=2.5)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BENCHGEN_UPLOAD_ATTEMPTS", "0"),
        ("BENCHGEN_DB_RETRY_BASE_DELAY_S", "-1"),
        ("BENCHGEN_UPLOAD_ATTEMPTS", "many"),
        ("BENCHGEN_S3_CONNECT_TIMEOUT_S", "0"),
    ],
)
def test_a_bad_value_is_a_usage_error_naming_the_variable(
    clean_env: pytest.MonkeyPatch, name: str, value: str
) -> None:
    clean_env.setenv(name, value)
    with pytest.raises(SettingsError, match=f"^{name}: ") as raised:
        Settings.from_env()
    assert isinstance(raised.value, UsageError) and raised.value.exit_code == 2


def test_explicit_settings_win_over_the_environment(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("BENCHGEN_CACHE_DIR", str(tmp_path / "from-env"))
    given = Settings(cache_dir=tmp_path / "given")
    assert storage.default_work_dir("s3://b/p", given.cache_dir).parent == tmp_path / "given" / "datasets"
    assert storage.default_work_dir("s3://b/p").parent == tmp_path / "from-env" / "datasets"
