"""The staff page's actions, and the page an invitee opens from the emailed link.

Inviting, revoking, removing and transferring need `staff.manage` (owners; superusers for
support), and transferring ownership needs the owner in person. The join page is guarded by
the signed link itself: the invitee isn't a member yet. Rules live in app.accounts.invites and
app.accounts.staff; a refusal re-renders the page with the reason and the status it carries.
"""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from app.accounts import invites, twofactor
from app.accounts.invites import InviteError
from app.accounts.models import Membership, StoreInvite
from app.accounts.permissions import require_store_permission
from app.accounts.staff import StaffError, remove_member, transfer_ownership
from app.accounts.stepup import requires_recent_factor
from app.dashboard import bp
from app.dashboard.staff_forms import InviteForm, TransferForm
from app.dashboard.views import _staff_page
from app.extensions import limiter
from app.rendering import is_htmx
from tenants.context import current_store
from tenants.query import get_for_store, get_for_store_or_404

JOIN_TEMPLATE = "admin/staff/join.html"


def _per_store() -> str:
    return f"invites:store:{current_store().id}"


def _back_to_staff(message: str, category: str = "success"):
    """An htmx row action answers with an empty body (the row goes); a form with a 303."""
    if is_htmx():
        return "", 200
    flash(message, category)
    return redirect(url_for("dashboard.staff"), code=303)


@bp.post("/staff/invites")
@require_store_permission("staff.manage")
@requires_recent_factor
@limiter.limit("50 per hour", key_func=_per_store, error_message="Too many invitations")
def staff_invite():
    """Invite an email address to join the store as manager or staff."""
    form = InviteForm()
    if not form.validate():
        return _staff_page(422, invite_form=form)
    try:
        invite, replaced = invites.create_invite(
            current_store(), form.email.data, form.role.data or "", actor=current_user
        )
    except InviteError as exc:
        form.email.errors = [exc.message]
        return _staff_page(exc.status, invite_form=form)
    message = f"Invitation sent to {invite.email} as {invite.role}."
    if replaced:
        message += " The earlier invitation's link no longer works."
    flash(message, "success")
    return redirect(url_for("dashboard.staff"), code=303)


@bp.post("/staff/invites/<int:invite_id>/revoke")
@require_store_permission("staff.manage")
@requires_recent_factor
def staff_invite_revoke(invite_id: int):
    """Withdraw a pending invitation; its link stops working."""
    invite = get_for_store_or_404(StoreInvite, invite_id)
    try:
        invites.revoke_invite(invite, actor=current_user)
    except InviteError as exc:
        flash(exc.message, "error")
        return _staff_page(exc.status)
    return _back_to_staff(f"The invitation to {invite.email} was withdrawn.")


@bp.post("/staff/<int:membership_id>/remove")
@require_store_permission("staff.manage")
@requires_recent_factor
def staff_remove(membership_id: int):
    """Take a member out of the store (the owner can't be removed)."""
    membership = get_for_store_or_404(Membership, membership_id)
    try:
        email = remove_member(membership, actor=current_user)
    except StaffError as exc:
        flash(exc.message, "error")
        return _staff_page(exc.status)
    return _back_to_staff(f"{email} no longer has access to this store.")


@bp.post("/staff/transfer")
@require_store_permission("staff.manage")
@requires_recent_factor
def staff_transfer():
    """Hand the store to another member; the owner becomes a manager."""
    form = TransferForm()
    if not form.validate():
        return _staff_page(422, transfer_form=form)
    target = get_for_store(Membership, form.membership_id.data)
    if target is None:
        form.membership_id.errors = ["Choose a member of this store."]
        return _staff_page(422, transfer_form=form)
    try:
        transfer_ownership(current_store(), target, actor=current_user)
    except StaffError as exc:
        form.membership_id.errors = [exc.message]
        return _staff_page(exc.status, transfer_form=form)
    flash(gettext("Ownership transferred. You're now a manager of this store."), "success")
    # A manager can't open the staff page any more, so land on the overview.
    return redirect(url_for("dashboard.home"), code=303)


@bp.post("/staff/two-factor")
@require_store_permission("staff.manage")
@requires_recent_factor
def staff_two_factor():
    """Require (or stop requiring) two-factor sign-in of the store's members (owner only)."""
    required = request.form.get("required") == "y"
    try:
        changed = twofactor.set_store_requirement(
            current_store(), required, actor=current_user._get_current_object()
        )
    except twofactor.TwoFactorError as exc:
        flash(exc.message, "error")
        return redirect(url_for("dashboard.staff"), code=303)
    if changed:
        flash(
            gettext("Members now need two-factor sign-in to open this dashboard.")
            if required
            else gettext("Two-factor sign-in is no longer required here."),
            "success",
        )
    return redirect(url_for("dashboard.staff"), code=303)


def _guarded_by_invite_link(view):
    """Mark a view whose key is the signed link itself; the view checks it before anything."""
    view.permission = "invite link"
    return view


@bp.route("/join/<token>", methods=["GET", "POST"])
@_guarded_by_invite_link
def invite_join(token: str):
    """Accept an invitation: sign in or register as the invited address, then join."""
    store = current_store()
    try:
        invite = invites.invite_for_token(token, store)
    except InviteError as exc:
        return render_template(JOIN_TEMPLATE, error=exc.message, state="unusable"), exc.status
    if not current_user.is_authenticated:
        if request.method == "POST":
            return redirect(url_for("accounts.signin", next=request.path))
        return render_template(JOIN_TEMPLATE, invite=invite, state="anonymous")
    try:
        if request.method == "POST":
            invites.accept_invite(invite, current_user)
        else:
            invites.check_invitee(invite, current_user)
    except InviteError as exc:
        state = "unusable" if exc.status == 410 else "refused"
        return render_template(
            JOIN_TEMPLATE, invite=invite, error=exc.message, state=state
        ), exc.status
    if request.method == "GET":
        return render_template(JOIN_TEMPLATE, invite=invite, state="ready")
    flash(
        gettext(
            "Welcome to %(name)s! You've joined as %(role)s.",
            name=store.name,
            role=gettext(invite.role),
        ),
        "success",
    )
    return redirect(url_for("dashboard.home"), code=303)
