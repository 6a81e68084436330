"""Changing a user's address book. Every function takes the user explicitly and commits."""

from collections.abc import Mapping

from sqlalchemy import func, select, update

from app.accounts.models import User
from app.addresses import rules
from app.addresses.models import Address
from app.extensions import db
from tenants.query import MAX_ID

MAX_ADDRESSES = 50
KINDS = {"shipping": "is_default_shipping", "billing": "is_default_billing"}
LIMIT_MESSAGE = (
    f"You can keep up to {MAX_ADDRESSES} addresses. Delete one you no longer use to add another."
)


class AddressError(ValueError):
    """An address was refused; `errors` maps each bad field ("" for the form) to a message."""

    def __init__(self, errors: Mapping[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = dict(errors)


def list_addresses(user: User) -> list[Address]:
    """The user's addresses: default shipping, then default billing, then newest first."""
    return list(
        db.session.scalars(
            select(Address)
            .where(Address.user_id == user.id)
            .order_by(
                Address.is_default_shipping.desc(),
                Address.is_default_billing.desc(),
                Address.created_at.desc(),
                Address.id.desc(),
            )
        )
    )


def count_addresses(user: User) -> int:
    """How many addresses the user has saved."""
    return db.session.scalar(select(func.count()).where(Address.user_id == user.id)) or 0


def get_address(user: User, address_id) -> Address | None:
    """The user's address with this id, or None (also for other users' addresses)."""
    try:
        address_id = int(address_id)
    except (TypeError, ValueError):
        return None
    if not 1 <= address_id <= MAX_ID:
        return None
    return db.session.scalar(
        select(Address).where(Address.id == address_id, Address.user_id == user.id)
    )


def _lock_address_book(user: User) -> None:
    """Serialise changes to one user's book (counting, moving defaults) until the commit.

    On PostgreSQL this locks the user's row; SQLite transactions already begin IMMEDIATE.
    """
    db.session.execute(select(User.id).where(User.id == user.id).with_for_update())


def _clear_default(user: User, kind: str, keep: Address | None = None) -> None:
    """Unset the user's current default of `kind`, before another address takes it.

    A separate UPDATE that runs first, so the partial unique index never sees two defaults.
    """
    column = getattr(Address, KINDS[kind])
    statement = update(Address).where(Address.user_id == user.id, column.is_(True))
    if keep is not None and keep.id is not None:
        statement = statement.where(Address.id != keep.id)
    db.session.execute(statement.values({KINDS[kind]: False}))


def _check_owner(user: User, address: Address) -> None:
    if address.user_id != user.id:
        raise LookupError("that address belongs to another user")


def _validated(values: Mapping[str, object]) -> dict[str, str | None]:
    clean, errors = rules.validate_address(values)
    if errors:
        raise AddressError(errors)
    return clean


def create_address(
    user: User,
    values: Mapping[str, object],
    *,
    default_shipping: bool = False,
    default_billing: bool = False,
) -> Address:
    """Validate and save a new address; the user's first address becomes both defaults."""
    clean = _validated(values)
    _lock_address_book(user)
    existing = count_addresses(user)
    if existing >= MAX_ADDRESSES:
        db.session.rollback()
        raise AddressError({"": LIMIT_MESSAGE})
    if existing == 0:
        default_shipping = default_billing = True
    defaults = {"shipping": default_shipping, "billing": default_billing}
    for kind, wanted in defaults.items():
        if wanted:
            _clear_default(user, kind)
    address = Address(
        user_id=user.id,
        **clean,
        is_default_shipping=bool(default_shipping),
        is_default_billing=bool(default_billing),
    )
    db.session.add(address)
    db.session.commit()
    return address


def update_address(
    user: User,
    address: Address,
    values: Mapping[str, object],
    *,
    default_shipping: bool | None = None,
    default_billing: bool | None = None,
) -> Address:
    """Validate and save changes to one of the user's addresses.

    `default_shipping`/`default_billing`: True makes it the default, False stops it being the
    default, None leaves that as it is.
    """
    _check_owner(user, address)
    clean = _validated(values)
    _lock_address_book(user)
    defaults = {"shipping": default_shipping, "billing": default_billing}
    for kind, wanted in defaults.items():
        if wanted:
            _clear_default(user, kind, keep=address)
    for field, value in clean.items():
        setattr(address, field, value)
    for kind, wanted in defaults.items():
        if wanted is not None:
            setattr(address, KINDS[kind], bool(wanted))
    db.session.commit()
    return address


def delete_address(user: User, address: Address) -> None:
    """Remove one of the user's addresses."""
    _check_owner(user, address)
    db.session.delete(address)
    db.session.commit()


def set_default(user: User, address: Address, kind: str) -> Address:
    """Make `address` the user's default for `kind` ("shipping" or "billing"), in one step."""
    _check_owner(user, address)
    if kind not in KINDS:
        raise ValueError(f"unknown kind of default address: {kind!r}")
    _lock_address_book(user)
    _clear_default(user, kind, keep=address)
    setattr(address, KINDS[kind], True)
    db.session.commit()
    return address
