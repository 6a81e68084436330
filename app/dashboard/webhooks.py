"""The dashboard's webhook pages: endpoints (register, edit, secret, on/off, delete, test
event) and the delivery log (filter, details, replay). Owners and managers (settings.change).

Every endpoint and delivery id from the URL is loaded with get_for_store_or_404, so another
store's rows are a 404. The rules live in app.webhooks.service.
"""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from app.accounts.permissions import require_store_permission
from app.dashboard import bp
from app.extensions import db
from app.webhooks import service
from app.webhooks.models import DELIVERY_STATUSES, EVENT_TYPES, WebhookDelivery, WebhookEndpoint
from tenants.context import current_store
from tenants.query import get_for_store_or_404


def _input_from_request() -> service.EndpointInput:
    form = request.form
    return service.EndpointInput(
        url=form.get("url", ""),
        description=form.get("description", ""),
        events=tuple(form.getlist("events")),
    )


def _index_page(values: service.EndpointInput, error: service.EndpointError | None = None):
    store = current_store()
    return render_template(
        "admin/webhooks/index.html",
        endpoints=service.list_endpoints(store),
        event_types=EVENT_TYPES,
        values=values,
        error=error,
    ), 422 if error else 200


@bp.get("/webhooks/")
@require_store_permission("settings.change")
def webhook_index():
    """The store's webhook endpoints and the form to register one."""
    return _index_page(service.EndpointInput(events=EVENT_TYPES))


@bp.post("/webhooks/")
@require_store_permission("settings.change")
def webhook_create():
    """Register an endpoint; its signing secret is shown on its page."""
    values = _input_from_request()
    try:
        endpoint = service.create_endpoint(current_store(), values, current_user)
    except service.EndpointError as exc:
        db.session.rollback()
        return _index_page(values, exc)
    flash(gettext("Endpoint added. Copy its signing secret below."), "success")
    return redirect(url_for("dashboard.webhook_endpoint", endpoint_id=endpoint.id), code=303)


def _endpoint_page(endpoint, values, error=None):
    return render_template(
        "admin/webhooks/endpoint.html",
        endpoint=endpoint,
        event_types=EVENT_TYPES,
        values=values,
        error=error,
    ), 422 if error else 200


@bp.get("/webhooks/<int:endpoint_id>")
@require_store_permission("settings.change")
def webhook_endpoint(endpoint_id: int):
    """One endpoint: its settings, signing secret and actions."""
    endpoint = get_for_store_or_404(WebhookEndpoint, endpoint_id)
    values = service.EndpointInput(endpoint.url, endpoint.description, tuple(endpoint.events))
    return _endpoint_page(endpoint, values)


@bp.post("/webhooks/<int:endpoint_id>")
@require_store_permission("settings.change")
def webhook_update(endpoint_id: int):
    """Change an endpoint's address, description or events."""
    endpoint = get_for_store_or_404(WebhookEndpoint, endpoint_id)
    values = _input_from_request()
    try:
        service.update_endpoint(endpoint, values, current_user)
    except service.EndpointError as exc:
        db.session.rollback()
        return _endpoint_page(get_for_store_or_404(WebhookEndpoint, endpoint_id), values, exc)
    flash(gettext("Endpoint saved."), "success")
    return redirect(url_for("dashboard.webhook_endpoint", endpoint_id=endpoint_id), code=303)


@bp.post("/webhooks/<int:endpoint_id>/rotate")
@require_store_permission("settings.change")
def webhook_rotate(endpoint_id: int):
    """Replace the endpoint's signing secret (the old one stops working at once)."""
    endpoint = get_for_store_or_404(WebhookEndpoint, endpoint_id)
    service.rotate_secret(endpoint, current_user)
    flash(gettext("New signing secret made. Update your receiver with it."), "success")
    return redirect(url_for("dashboard.webhook_endpoint", endpoint_id=endpoint_id), code=303)


@bp.post("/webhooks/<int:endpoint_id>/enabled")
@require_store_permission("settings.change")
def webhook_set_enabled(endpoint_id: int):
    """Switch an endpoint on or off."""
    endpoint = get_for_store_or_404(WebhookEndpoint, endpoint_id)
    enabled = request.form.get("enabled") == "1"
    service.set_enabled(endpoint, enabled, current_user)
    flash(
        gettext("Endpoint switched on.") if enabled else gettext("Endpoint switched off."),
        "success",
    )
    return redirect(url_for("dashboard.webhook_endpoint", endpoint_id=endpoint_id), code=303)


@bp.post("/webhooks/<int:endpoint_id>/delete")
@require_store_permission("settings.change")
def webhook_delete(endpoint_id: int):
    """Delete an endpoint with its delivery log."""
    endpoint = get_for_store_or_404(WebhookEndpoint, endpoint_id)
    service.delete_endpoint(endpoint, current_user)
    flash(gettext("Endpoint deleted."), "success")
    return redirect(url_for("dashboard.webhook_index"), code=303)


@bp.post("/webhooks/<int:endpoint_id>/test")
@require_store_permission("settings.change")
def webhook_test(endpoint_id: int):
    """Send a test event to the endpoint; its delivery shows in the log."""
    endpoint = get_for_store_or_404(WebhookEndpoint, endpoint_id)
    delivery = service.send_test(endpoint)
    flash(gettext("Test event sent."), "success")
    return redirect(url_for("dashboard.webhook_delivery", delivery_id=delivery.id), code=303)


@bp.get("/webhooks/deliveries")
@require_store_permission("settings.change")
def webhook_deliveries():
    """Every delivery, newest first, filterable by endpoint and status."""
    store = current_store()
    filters = service.delivery_filters(request.args.get("endpoint_id"), request.args.get("status"))
    return render_template(
        "admin/webhooks/deliveries.html",
        deliveries=service.list_deliveries(store, filters, request.args.get("page")),
        endpoints=service.list_endpoints(store),
        statuses=DELIVERY_STATUSES,
        filters=filters,
    )


@bp.get("/webhooks/deliveries/<int:delivery_id>")
@require_store_permission("settings.change")
def webhook_delivery(delivery_id: int):
    """One delivery: its event's body and every attempt's answer."""
    delivery = get_for_store_or_404(WebhookDelivery, delivery_id)
    return render_template(
        "admin/webhooks/delivery.html",
        delivery=delivery,
        attempts=service.attempts_of(delivery),
    )


@bp.post("/webhooks/deliveries/<int:delivery_id>/replay")
@require_store_permission("settings.change")
def webhook_replay(delivery_id: int):
    """Send a delivery's event to its endpoint again, as a new delivery."""
    delivery = get_for_store_or_404(WebhookDelivery, delivery_id)
    again = service.replay(delivery)
    flash(gettext("Delivery sent again."), "success")
    return redirect(url_for("dashboard.webhook_delivery", delivery_id=again.id), code=303)
