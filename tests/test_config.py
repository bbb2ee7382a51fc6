"""Settings: defaults < file (TOML, YAML) < STREAMPROC_* env < flags; every problem reported at once."""

from __future__ import annotations

import pytest

from streamproc.cli import main
from streamproc.errors import UsageError
from streamproc.live.settings import build_settings, environment_settings, read_config_file


def test_defaults_are_the_documented_ones():
    """Embedded defaults: loopback ports 4317 and 9464, 5 s idle, 1 s root grace, 60 s max age."""
    settings = build_settings([])
    assert (settings.grpc_listen, settings.http_listen) == ("127.0.0.1:4317", "127.0.0.1:9464")
    assert (settings.idle_timeout, settings.root_grace, settings.max_trace_age) == (5.0, 1.0, 60.0)
    assert settings.drain_seconds == 0.0


def test_later_layers_win_and_durations_parse(tmp_path):
    """A TOML file, then the environment, then flags; durations accept units."""
    toml = tmp_path / "streamproc.toml"
    toml.write_text('idle_timeout = "10s"\nmax-traces = 7\nroot_grace = "250ms"\n')
    env = environment_settings({"STREAMPROC_MAX_TRACES": "9", "HOME": "/root"})
    settings = build_settings(
        [("file", read_config_file(str(toml))), ("environment", env), ("flag", {"idle_timeout": "2m"})]
    )
    assert (settings.idle_timeout, settings.max_traces, settings.root_grace) == (120.0, 9, 0.25)


def test_yaml_files_are_read(tmp_path):
    """A .yaml settings file works like TOML."""
    yaml_file = tmp_path / "streamproc.yaml"
    yaml_file.write_text("grpc_listen: 0.0.0.0:4317\ndrain_seconds: 15\n")
    settings = build_settings([("file", read_config_file(str(yaml_file)))])
    assert (settings.grpc_listen, settings.drain_seconds) == ("0.0.0.0:4317", 15.0)


def test_every_problem_is_reported_together():
    """Unknown keys, bad numbers, bad durations and invalid values all appear in one error."""
    with pytest.raises(UsageError) as caught:
        build_settings([("flag", {"max_traces": "many", "root_grace": "soon", "colour": "red"})])
    message = str(caught.value)
    for part in ("max_traces", "root_grace", "unknown setting 'colour'"):
        assert part in message
    with pytest.raises(UsageError) as caught:
        build_settings([("flag", {"grpc_listen": "nowhere", "max_traces": 0, "log_format": "xml"})])
    message = str(caught.value)
    for part in ("grpc_listen", "max_traces must be positive", "log_format"):
        assert part in message


def test_bad_config_file_is_a_usage_error(tmp_path):
    """A broken settings file names the file."""
    broken = tmp_path / "bad.toml"
    broken.write_text("idle_timeout = = 3")
    with pytest.raises(UsageError, match=r"bad\.toml"):
        read_config_file(str(broken))


def test_serve_reports_invalid_settings_and_exits_2(capsys, monkeypatch):
    """streamproc serve with invalid flags and environment exits 2 naming each problem."""
    monkeypatch.setenv("STREAMPROC_IDLE_TIMEOUT", "never")
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--max-traces", "-1"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "idle_timeout" in err and "max_traces must be positive" in err


def test_an_unknown_streamproc_variable_is_an_error_naming_it():
    """A misspelt STREAMPROC_* variable would otherwise be silently ignored."""
    env = environment_settings({"STREAMPROC_IDLE_TIMOUT": "1s", "HOME": "/root"})
    with pytest.raises(UsageError, match="environment: unknown setting 'idle_timout'"):
        build_settings([("environment", env)])


def test_the_build_variable_is_not_a_setting():
    """STREAMPROC_PURE chooses the pure build (setup.py, the Makefile); a server run under it starts."""
    env = environment_settings({"STREAMPROC_PURE": "1", "STREAMPROC_MAX_TRACES": "7"})
    assert build_settings([("environment", env)]).max_traces == 7


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--max-message-size", "99999999999"], "max_message_size must be at most 2,147,483,647"),
        (["--idle-timeout", "9" * 400], "is out of range (0 to 100 years)"),
        (["--report-bucket", "1ms"], "report_bucket must be from 1s to report_retention"),
        (["--tick-interval", "1e-9"], "is not a duration"),
        (["--bottleneck-threshold", "1e999"], "is not a finite number"),
    ],
)
def test_absurd_settings_are_one_line_and_exit_2(capsys, argv, message):
    """Values that parse but mean nothing are refused at startup in one line, never a traceback."""
    with pytest.raises(SystemExit) as exited:
        main(["serve", *argv])
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert message in err and "Traceback" not in err and err.count("\n") == 1 and len(err) < 400


def test_a_config_file_that_is_not_utf8_is_a_usage_error(tmp_path):
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'log_level = "d\xe9bug"\n')
    with pytest.raises(UsageError, match=r"latin1\.toml: not UTF-8 text"):
        read_config_file(str(bad))
