import pytest

from infrastructure.settings import InsecureSettingsError, Mode, Settings


def test_production_refuses_development_default_secrets(monkeypatch):
    monkeypatch.delenv("LEDGERFLOW_BOOTSTRAP_ADMIN_TOKEN", raising=False)
    with pytest.raises(ValueError, match="LEDGERFLOW_BOOTSTRAP_ADMIN_TOKEN"):
        Settings(mode=Mode.production, audit_chain_key="x" * 40)


def test_production_refuses_the_development_master_key():
    with pytest.raises(ValueError, match="LEDGERFLOW_MASTER_KEY"):
        Settings(mode=Mode.production, bootstrap_admin_token="a" * 32, audit_chain_key="b" * 32, notify_channels="")


def test_production_refuses_short_secrets():
    with pytest.raises(ValueError, match="at least 24"):
        Settings(mode=Mode.production, bootstrap_admin_token="short", audit_chain_key="y" * 40)


def test_production_accepts_strong_secrets():
    s = Settings(mode=Mode.production, bootstrap_admin_token="a" * 32, audit_chain_key="b" * 32,
                 master_key="m" * 32, notify_channels="")
    assert s.bootstrap_admin_token.get_secret_value() == "a" * 32
    assert "a" * 32 not in repr(s)  # secrets never show up in logs or reprs


def test_embedded_clickhouse_lives_under_the_data_dir(tmp_path):
    s = Settings(data_dir=tmp_path)
    assert s.effective_clickhouse_url == f"chdb:///{tmp_path.resolve() / 'clickhouse'}"


def test_settings_come_from_prefixed_environment(monkeypatch):
    monkeypatch.setenv("LEDGERFLOW_PORT", "9123")
    assert Settings().port == 9123


def test_insecure_settings_error_is_a_value_error():
    assert issubclass(InsecureSettingsError, ValueError)


def test_test_mode_also_refuses_development_default_secrets(monkeypatch):
    monkeypatch.delenv("LEDGERFLOW_BOOTSTRAP_ADMIN_TOKEN", raising=False)
    with pytest.raises(ValueError, match="test mode"):
        Settings(mode=Mode.test)
    assert Settings(mode=Mode.test, bootstrap_admin_token="t", audit_chain_key="k", master_key="m").mode is Mode.test
