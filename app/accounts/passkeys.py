"""Passkeys (WebAuthn, py_webauthn) as a second factor.

The relying party is the platform host itself (PLATFORM_HOST), so one passkey works on the
platform and on every store subdomain. The expected origin is built from configuration (the
platform's scheme and port) for the platform host or one of its subdomains, never echoed from
the request: a custom-domain store host can't run a ceremony at all.

py_webauthn is imported by the functions that run a ceremony, not with this module: it is a
quarter of a second of every process's start (web, worker, cron, each `flask` command), and most
processes never run one.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from flask import current_app, g, request
from flask_babel import gettext, lazy_gettext
from sqlalchemy import select

from app.accounts.factor_models import Passkey
from app.accounts.models import User
from app.accounts.redirects import is_platform_host
from app.accounts.twofactor import TwoFactorError, _notify, forget_cached_state, passkeys_of
from app.database import utcnow
from app.extensions import db

if TYPE_CHECKING:
    from webauthn.helpers.structs import PublicKeyCredentialDescriptor

RP_NAME = "Pasar"
MAX_PASSKEYS = 10


class PasskeyError(TwoFactorError):
    """A passkey ceremony was refused; the message is safe to show."""


def rp_id() -> str:
    """The relying party id: the platform host, shared by every store subdomain."""
    return current_app.config["PLATFORM_HOST"]


def host_can_use_passkeys() -> bool:
    """True on the platform host and its store subdomains; False on custom domains."""
    return g.get("host_kind") in ("platform", "store") and is_platform_host(
        request.host.split(":")[0]
    )


def expected_origin() -> str:
    """The origin a ceremony on this host must report, from configuration, or PasskeyError."""
    if not host_can_use_passkeys():
        raise PasskeyError(
            None,
            gettext(
                "Passkeys work on the Pasar site itself. Use your authenticator app or a recovery "
                "code here, or sign in on the Pasar site."
            ),
        )
    host = request.host.split(":")[0].lower().rstrip(".")
    port = current_app.config.get("PLATFORM_PORT")
    scheme = current_app.config["PREFERRED_URL_SCHEME"]
    return f"{scheme}://{host}{':' + port if port else ''}"


def _user_handle(user: User) -> bytes:
    return f"pasar-user-{user.id}".encode()


def _descriptors(user: User) -> list[PublicKeyCredentialDescriptor]:
    from webauthn.helpers.structs import PublicKeyCredentialDescriptor

    return [PublicKeyCredentialDescriptor(id=pk.credential_id) for pk in passkeys_of(user)]


def registration_options(user: User) -> tuple[str, bytes]:
    """Options for navigator.credentials.create() as JSON, and the challenge to keep."""
    from webauthn import generate_registration_options, options_to_json
    from webauthn.helpers.structs import (
        AuthenticatorSelectionCriteria,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )

    expected_origin()
    if len(passkeys_of(user)) >= MAX_PASSKEYS:
        raise PasskeyError(
            None,
            gettext("You can have at most %(max)s passkeys. Remove one first.", max=MAX_PASSKEYS),
        )
    options = generate_registration_options(
        rp_id=rp_id(),
        rp_name=RP_NAME,
        user_id=_user_handle(user),
        user_name=user.email,
        user_display_name=user.name or user.email,
        exclude_credentials=_descriptors(user),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
    )
    return options_to_json(options), options.challenge


def register(user: User, credential: dict | str, challenge: bytes, name: str) -> Passkey:
    """Verify a new credential for `user` and store it; PasskeyError if it doesn't check out."""
    from webauthn import verify_registration_response
    from webauthn.helpers.exceptions import WebAuthnException

    origin = expected_origin()
    name = (name or "").strip()[:60] or "Passkey"
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id(),
            expected_origin=origin,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise PasskeyError(
            None, gettext("That passkey couldn't be registered (%(reason)s).", reason=exc)
        ) from None
    exists = db.session.scalar(
        select(Passkey.id).where(Passkey.credential_id == verified.credential_id)
    )
    if exists is not None:
        raise PasskeyError(None, gettext("That passkey is already registered."))
    raw = (_parsed(credential).get("response") or {}).get("transports") or []
    transports = [t for t in raw if isinstance(t, str)][:6]
    passkey = Passkey(
        user_id=user.id,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        name=name,
        transports=",".join(transports)[:120],
    )
    db.session.add(passkey)
    db.session.flush()
    forget_cached_state()
    _notify(
        user,
        "2fa.passkey_added",
        lazy_gettext("A passkey named “%(name)s” was added to your account.", name=name),
        passkey=passkey.id,
        name=name,
    )
    return passkey


def authentication_options(user: User) -> tuple[str, bytes]:
    """Options for navigator.credentials.get() limited to the user's passkeys, and the challenge."""
    from webauthn import generate_authentication_options, options_to_json
    from webauthn.helpers.structs import UserVerificationRequirement

    expected_origin()
    descriptors = _descriptors(user)
    if not descriptors:
        raise PasskeyError(None, gettext("You have no passkeys yet."))
    options = generate_authentication_options(
        rp_id=rp_id(),
        allow_credentials=descriptors,
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return options_to_json(options), options.challenge


def authenticate(user: User, credential: dict | str, challenge: bytes) -> Passkey:
    """Verify an assertion from one of `user`'s passkeys; PasskeyError otherwise."""
    from webauthn.helpers import bytes_to_base64url

    origin = expected_origin()
    credential = _parsed(credential)
    by_id = {bytes_to_base64url(pk.credential_id): pk for pk in passkeys_of(user)}
    passkey = by_id.get(str(credential.get("rawId") or credential.get("id") or ""))
    if passkey is None:
        raise PasskeyError(None, gettext("That passkey isn't registered to this account."))
    _verify_assertion(credential, challenge, origin, passkey, require_user_verification=False)
    return passkey


def remove(user: User, passkey_id: int) -> None:
    """Remove one of the user's passkeys (another user's id is simply not found)."""
    passkey = db.session.scalar(
        select(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == user.id)
    )
    if passkey is None:
        raise PasskeyError(None, gettext("There is no such passkey."))
    name = passkey.name
    db.session.delete(passkey)
    db.session.commit()
    _notify(
        user,
        "2fa.passkey_removed",
        lazy_gettext("The passkey named “%(name)s” was removed from your account.", name=name),
        name=name,
    )


def sign_in_options() -> tuple[str, bytes]:
    """Options for signing in with a passkey alone (a discoverable credential, the user
    verified by the device): no list of credentials, so nothing says which accounts exist."""
    from webauthn import generate_authentication_options, options_to_json
    from webauthn.helpers.structs import UserVerificationRequirement

    expected_origin()
    options = generate_authentication_options(
        rp_id=rp_id(), user_verification=UserVerificationRequirement.REQUIRED
    )
    return options_to_json(options), options.challenge


def authenticate_first_factor(credential: dict | str, challenge: bytes) -> User:
    """The account whose passkey answered, verified with user verification (the device's PIN or
    biometrics make the passkey a two-factor sign-in on its own); PasskeyError otherwise."""
    origin = expected_origin()
    credential = _parsed(credential)
    raw_id = str(credential.get("rawId") or credential.get("id") or "")
    try:
        from webauthn.helpers import base64url_to_bytes

        credential_id = base64url_to_bytes(raw_id)
    except (ValueError, TypeError):
        raise PasskeyError(None, gettext("That passkey isn't registered here.")) from None
    passkey = db.session.scalar(select(Passkey).where(Passkey.credential_id == credential_id))
    if passkey is None:
        raise PasskeyError(None, gettext("That passkey isn't registered here."))
    user = db.session.get(User, passkey.user_id)
    if user is None or not user.is_active:
        raise PasskeyError(None, gettext("This account can't sign in. Contact support."))
    _verify_assertion(credential, challenge, origin, passkey, require_user_verification=True)
    return user


def _parsed(credential: dict | str) -> dict:
    """The browser's PublicKeyCredential as a dict; PasskeyError if it isn't one."""
    if isinstance(credential, str):
        try:
            credential = json.loads(credential)
        except ValueError:
            raise PasskeyError(None, gettext("That passkey answer wasn't readable.")) from None
    if not isinstance(credential, dict):
        raise PasskeyError(None, gettext("That passkey answer wasn't readable."))
    return credential


def _verify_assertion(
    credential: dict, challenge: bytes, origin: str, passkey: Passkey, *, require_user_verification
) -> None:
    """Verify an assertion by `passkey` and record its use; PasskeyError if it doesn't hold."""
    from webauthn import verify_authentication_response
    from webauthn.helpers.exceptions import WebAuthnException

    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id(),
            expected_origin=origin,
            credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=require_user_verification,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        raise PasskeyError(None, gettext("That passkey couldn't be verified. Try again.")) from None
    passkey.sign_count = verified.new_sign_count
    passkey.last_used_at = utcnow()
    db.session.commit()
