"""Mail over SMTP: the test email, both languages, the sender, SMTP AUTH, and the settings checks."""

from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from notifications.mail import SmtpMailer, build_message
from tests.notifications.smtp import SmtpSink, body, free_port

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def test_test_email_goes_through_the_configured_server(runner, smtp):
    result = runner.invoke(args=["notices", "test-email", "hanako@example.jp"])
    assert result.exit_code == 0, result.output
    assert f"127.0.0.1:{smtp.port}" in result.output
    [message] = smtp.sink.wait_for(1)
    assert message["To"] == "hanako@example.jp"
    assert message["From"].addresses[0].addr_spec == "library@example.jp"
    assert message["From"].addresses[0].display_name == "しおり市立図書館"
    assert message["Subject"].startswith("[しおり市立図書館] ")
    assert message["Content-Language"] == "ja"
    assert message.get_content_type() == "multipart/alternative"
    assert "http://localhost/" in body(message, "plain")
    assert "<html" in body(message, "html")


def test_test_email_in_english(runner, smtp):
    assert runner.invoke(args=["notices", "test-email", "emily@example.com", "--language", "en"]).exit_code == 0
    [message] = smtp.sink.wait_for(1)
    assert message["Subject"] == "[Shiori City Library] Test email from the patron portal"
    assert "If you can read it, email from the portal works." in body(message)
    assert message["Content-Language"] == "en"


def test_test_email_reports_a_server_that_is_not_there(app_config, runner, smtp):
    runner.app.config["MAIL_PORT"] = free_port()
    result = runner.invoke(args=["notices", "test-email", "hanako@example.jp"])
    assert result.exit_code == 1 and "not sent" in result.output


def test_no_mail_host_means_no_email(runner):
    runner.app.config["MAIL_HOST"] = ""
    for args in (["notices", "test-email", "a@example.jp"], ["notices", "run"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 1 and "MAIL_HOST is empty" in result.output


class Authenticator:
    def __init__(self):
        self.seen = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        self.seen.append((mechanism, auth_data.login, auth_data.password))
        ok = auth_data.login == b"shiori" and auth_data.password == b"s3cret-pass"
        return AuthResult(success=ok, handled=False)


@pytest.fixture
def auth_smtp():
    sink, authenticator, port = SmtpSink(), Authenticator(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, authenticator=authenticator,
                            auth_require_tls=False, auth_required=True, auth_exclude_mechanism=["LOGIN"])
    controller.start()
    controller.sink, controller.port, controller.authenticator = sink, port, authenticator
    yield controller
    controller.stop()


def test_smtp_auth_with_the_configured_user(app, auth_smtp, caplog):
    config = {**app.config, "MAIL_PORT": auth_smtp.port, "MAIL_USERNAME": "shiori", "MAIL_PASSWORD": "s3cret-pass"}
    mailer = SmtpMailer(config)
    mailer.send(build_message(config, to="a@example.jp", subject="s", text="t"))
    mailer.close()
    assert len(auth_smtp.sink.wait_for(1)) == 1
    assert auth_smtp.authenticator.seen[0][1:] == (b"shiori", b"s3cret-pass")
    assert "s3cret-pass" not in repr(mailer)


def test_a_wrong_smtp_password_is_reported_without_the_password(runner, auth_smtp, caplog):
    runner.app.config.update(MAIL_PORT=auth_smtp.port, MAIL_USERNAME="shiori", MAIL_PASSWORD="wrong-pass")
    result = runner.invoke(args=["notices", "test-email", "a@example.jp"])
    assert result.exit_code == 1
    assert "wrong-pass" not in result.output and "wrong-pass" not in caplog.text
    assert auth_smtp.sink.messages == []


def test_ssl_and_starttls_are_exclusive(app):
    with pytest.raises(ValueError, match="exclusive"):
        SmtpMailer({**app.config, "MAIL_SSL": True, "MAIL_STARTTLS": True})


def test_one_connection_is_reused_for_many_messages(app, smtp):
    mailer = SmtpMailer(app.config)
    for number in range(5):
        mailer.send(build_message(app.config, to=f"p{number}@example.jp", subject="s", text="t"))
    assert len(mailer._open) == 1
    mailer.close()
    assert len(smtp.sink.wait_for(5)) == 5
