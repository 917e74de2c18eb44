"""``flask ils check`` on the demo adapter: the generic findings, exit status, nothing changed."""

from __future__ import annotations

from app import create_app


def _run(tmp_path, *args, password=None):
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "INSTANCE_PATH": str(tmp_path),
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'store.sqlite3'}"})
    return app, app.test_cli_runner().invoke(args=["ils", "check", *args], input=f"{password}\n" if password else None)


def test_check_without_card_reports_reachable(tmp_path):
    _app, result = _run(tmp_path)
    assert result.exit_code == 0, result.output
    assert "adapter: demo" in result.output
    assert "[ok  ] reachable" in result.output
    assert "all checks passed" in result.output


def test_check_with_card_masks_the_name_and_counts_without_changing_anything(tmp_path):
    app, result = _run(tmp_path, "--card", "2000-0000-04", password="takahashi24")
    assert result.exit_code == 0, result.output
    assert "高橋" not in result.output  # the name is masked
    assert "loans" in result.output and "holds" in result.output
    assert "the portal shows it as ready" in result.output
    # a second run sees the same account: the check changed nothing
    _app, again = _run(tmp_path, "--card", "2000000004", password="takahashi24")
    assert again.output == result.output


def test_check_with_wrong_password_fails_with_exit_1(tmp_path):
    _app, result = _run(tmp_path, "--card", "2000000004", password="wrong")
    assert result.exit_code == 1
    assert "[FAIL] patron" in result.output
    assert "1 problem(s) found" in result.output
