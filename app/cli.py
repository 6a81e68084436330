"""`flask` commands for operators: demo data, superusers, stores, a test email, clean originals."""

import click
from flask import current_app
from flask.cli import with_appcontext

from app.accounts.service import AccountError, create_user, find_user_by_email
from app.extensions import db
from tenants.provisioning import StoreSettingsError, create_store
from tenants.urls import platform_url, store_url


@click.command("seed-demo")
@click.option("--products", default=200, show_default=True, help="Products per demo store.")
@click.option("--no-images", is_flag=True, help="Skip the generated product pictures.")
@click.option(
    "--orders",
    type=click.IntRange(min=0),
    default=45,
    show_default=True,
    help="Paid orders per demo store (0: none).",
)
@with_appcontext
def seed_demo_command(products: int, no_images: bool, orders: int):
    """Create the demo stores, logins and catalogs (idempotent) and print the logins."""
    from app.demo import DEMO_PASSWORD, seed_demo

    logins = seed_demo(products=products, images=not no_images, progress=click.echo, orders=orders)
    click.echo(f"Demo ready. Platform: {platform_url()}")
    from sqlalchemy import select

    from tenants.models import Store

    for store in db.session.scalars(select(Store).order_by(Store.slug)):
        click.echo(f"  store {store.slug:<8} {store_url(store)}  ({store.name}, {store.currency})")
    click.echo(f"Logins (password for all: {DEMO_PASSWORD}):")
    for role, email, where in logins:
        click.echo(f"  {role:<10} {email:<28} {where}")


@click.command("create-superuser")
@click.option("--email", prompt=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", default="")
@with_appcontext
def create_superuser_command(email: str, password: str, name: str):
    """Create a platform admin, or make an existing account one."""
    if len(password) < 10:
        raise click.ClickException("The password needs at least 10 characters.")
    user = find_user_by_email(email)
    if user is None:
        try:
            user = create_user(email, password, name=name, is_superuser=True, verified=True)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None
    else:
        user.is_superuser = True
        user.set_password(password)
    db.session.commit()
    click.echo(f"Superuser {user.email} ready.")


@click.command("create-store")
@click.option("--slug", required=True, help="Subdomain, e.g. acme")
@click.option("--name", required=True)
@click.option("--owner", "owner_email", required=True, help="Email of an existing account.")
@click.option("--currency", default="USD", show_default=True)
@click.option("--locale", default="en_US", show_default=True)
@click.option("--timezone", default="UTC", show_default=True)
@click.option("--accent-color", default="#0f766e", show_default=True)
@with_appcontext
def create_store_command(slug, name, owner_email, currency, locale, timezone, accent_color):
    """Create a store owned by an existing account."""
    owner = find_user_by_email(owner_email)
    if owner is None:
        raise click.ClickException(
            f"No account for {owner_email}. Create it first (e.g. flask create-superuser)."
        )
    try:
        store = create_store(
            slug=slug.strip(),
            name=name,
            owner=owner,
            currency=currency,
            locale=locale,
            timezone=timezone,
            accent_color=accent_color,
        )
    except StoreSettingsError as exc:
        raise click.ClickException(f"{exc.field}: {exc.message}") from None
    click.echo(f"Store {store.slug} created: {store_url(store)}")


@click.command("scrub-originals")
@with_appcontext
def scrub_originals_command():
    """Strip the metadata (EXIF GPS and the rest) from product image originals stored earlier."""
    from sqlalchemy import select

    from app.catalog.image_processing import scrub_original
    from app.catalog.models import ProductImage
    from tenants.rls import all_stores

    done = 0
    with all_stores("scrub-originals: product images of every store"):
        for image in db.session.scalars(select(ProductImage).order_by(ProductImage.id)):
            try:
                done += scrub_original(image)
            except (OSError, ValueError) as exc:
                click.echo(f"  image {image.id}: {type(exc).__name__}: {exc}", err=True)
    click.echo(f"Originals cleaned: {done}")


@click.command("send-test-email")
@click.option("--to", "to_address", required=True)
@with_appcontext
def send_test_email_command(to_address: str):
    """Queue a test email, to check the mail settings and the worker."""
    from app.notifications.service import queue_email

    message = queue_email(to_address, "Pasar test email", "test_message")
    db.session.refresh(message)
    mode = "sent inline" if current_app.config["EMBEDDED"] else "queued for the worker"
    click.echo(f"Email {message.id} {mode}; status: {message.status}")
