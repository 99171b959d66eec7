from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import Settings, load_settings
from bridge.errors import ConfigError


def test_defaults() -> None:
    settings = load_settings(environ={})
    assert settings.server.host == "127.0.0.1"
    assert settings.server.port == 7700
    assert settings.exec.max_output == 64 * 1024 * 1024


def test_layers_file_then_env_then_flags(tmp_path: Path) -> None:
    config = tmp_path / "ddbridge.toml"
    config.write_text('[server]\nport = 7800\nhost = "127.0.0.2"\n[backend]\ntimeout = 5\n')
    environ = {"DDBRIDGE_SERVER_PORT": "7900", "DDBRIDGE_SERVER_ALLOW_ORIGINS": "http://a:1, http://b:2"}
    settings = load_settings(config, {"server": {"port": 8000}}, environ)
    assert settings.server.port == 8000
    assert settings.server.host == "127.0.0.2"
    assert settings.server.allow_origins == ("http://a:1", "http://b:2")
    assert settings.backend.timeout == 5
    assert load_settings(config, {}, environ).server.port == 7900
    assert load_settings(config, {}, {}).server.port == 7800


def test_example_config_is_valid_and_complete() -> None:
    example = Path(__file__).resolve().parents[2] / "config.example.toml"
    text = example.read_text()
    load_settings(example, environ={})
    for section, field in Settings.model_fields.items():
        assert f"[{section}]" in text, f"config.example.toml lacks [{section}]"
        model = field.annotation
        assert model is not None
        for key in model.model_fields:  # type: ignore[union-attr]
            assert f"\n# {key} =" in text or f"\n{key} =" in text, (
                f"config.example.toml lacks {section}.{key}"
            )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[server]\nport = 'x'\n", "server.port"),
        ("[server]\nport = 70000\n", "server.port"),
        ("[server]\ncolour = 1\n", "unknown setting server.colour"),
        ("[nope]\nx = 1\n", "unknown setting nope"),
        ("[server]\nallow_origins = ['localhost:3000']\n", "is not an origin"),
        ("server = 1\n", "[server] must be a table"),
        ("[server\n", "not valid TOML"),
    ],
)
def test_bad_files_name_the_problem(tmp_path: Path, content: str, message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(content)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_settings(config, environ={})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "missing.toml", environ={})
