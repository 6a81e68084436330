"""The codes travel by real SMTP (aiosmtpd): the test reads them from the received mail."""

from tests.accounts_helpers import code_in
from tests.factories import make_user


def _mail_to(smtp_server, address):
    mails = [m for m in smtp_server.messages if m["To"] == address]
    assert mails, f"no mail for {address}"
    return mails[-1]


def test_register_and_verify_with_the_code_from_the_smtp_mail(app, client, smtp_server):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port)
    client.post(
        "/account/register", data={"email": "smtp@example.com", "password": "correct-horse-battery"}
    )
    mail = _mail_to(smtp_server, "smtp@example.com")
    assert mail["Subject"] == "Your Pasar verification code"
    code = code_in(mail.get_body(("plain",)).get_content())
    assert code in mail.get_body(("html",)).get_content()
    assert client.post("/account/verify", data={"code": code}).status_code == 303
    assert client.get("/account/").status_code == 200
    assert _mail_to(smtp_server, "smtp@example.com")["Subject"] == "Welcome to Pasar"


def test_passwordless_sign_in_with_the_code_from_the_smtp_mail(app, client, smtp_server):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port)
    make_user("codes@example.com")
    client.post("/account/signin/code", data={"email": "codes@example.com"})
    mail = _mail_to(smtp_server, "codes@example.com")
    assert mail["Subject"] == "Your Pasar sign-in code"
    code = code_in(mail.get_body(("plain",)).get_content())
    assert client.post("/account/signin/code/verify", data={"code": code}).status_code == 303
    assert client.get("/account/").status_code == 200
