"""Screenshots of the admin (dashboard and console) at 1280 and 390 px, of any commit.

    .venv/bin/python scripts/admin_screenshots.py --commit ebe9a18 --port 7521 \
        --out docs/screenshots/before

Checks the commit out in a temporary git worktree (sharing this checkout's .venv and
static/vendor), migrates and seeds the demo into a SQLite file there, serves it with gunicorn on
`--port`, signs in as Acme's owner and as a new platform admin (enrolled in two-factor sign-in),
and saves each page as a palette PNG (256 colours, at most MAX_HEIGHT px tall) under `--out`.
Used once for docs/screenshots/before/ (the commit before the admin shell); the browser tests
save the "after" ones in test-artifacts/ (admin-shell-*).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MAX_HEIGHT = 2400
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
DASHBOARD = {
    "dashboard-home": "/admin/",
    "dashboard-products": "/admin/products/",
    "dashboard-product-edit": None,  # the first product's editor, found on the list
    "dashboard-orders": "/admin/orders/",
    "dashboard-order": None,  # the newest order
    "dashboard-audit": "/admin/audit",
}
CONSOLE = {"console-overview": "/console/", "console-stores": "/console/stores/"}


def run(*args, **kwargs):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs)  # noqa: S603


def worktree(commit: str, where: Path) -> None:
    run("git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), commit)
    (where / ".venv").symlink_to(ROOT / ".venv")
    (where / "static" / "vendor").symlink_to(ROOT / "static" / "vendor")


def serve(where: Path, port: int, env: dict) -> subprocess.Popen:
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    run(*flask, "db", "upgrade", cwd=where, env=env)
    run(*flask, "seed-demo", "--products", "30", cwd=where, env=env)
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=where,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return proc
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit("the server did not start")


def save(page, out: Path, name: str) -> None:
    """A full-page shot, cut at MAX_HEIGHT and reduced to 256 colours (a few dozen KB)."""
    from PIL import Image

    raw = out / f"{name}.raw.png"
    page.screenshot(path=str(raw), full_page=True)
    with Image.open(raw) as image:
        image = image.convert("RGB")
        image = image.crop((0, 0, image.width, min(image.height, MAX_HEIGHT)))
        image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(
            out / f"{name}.png", optimize=True
        )
    raw.unlink()


def both_widths(page, url: str, out: Path, name: str) -> None:
    for size, suffix in ((DESKTOP, "1280"), (PHONE, "390")):
        page.set_viewport_size(size)
        page.goto(url)
        save(page, out, f"{name}-{suffix}")


def shoot(port: int, out: Path, env: dict, where: Path) -> None:
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
    from tests.browser.test_two_factor_flow import Authenticator

    acme = f"http://acme.pasar.localhost:{port}"
    platform = f"http://pasar.localhost:{port}"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=DESKTOP).new_page()
        page.goto(f"{acme}/account/signin?next=/admin/")
        page.get_by_label("Email").fill("owner@acme.example.com")
        page.get_by_label("Password", exact=True).fill("pasar-demo-2026")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/admin/$"))
        page.goto(f"{acme}/admin/products/")
        first_product = page.locator("table a[href*='/admin/products/']").first
        first_product = first_product.get_attribute("href")
        page.goto(f"{acme}/admin/orders/")
        newest_order = page.locator("table a[href*='/admin/orders/']").first.get_attribute("href")
        found = {"dashboard-product-edit": first_product, "dashboard-order": newest_order}
        for name, path in DASHBOARD.items():
            both_widths(page, acme + (path or found[name]), out, name)

        email, password = f"shots-{uuid.uuid4().hex[:8]}@example.com", "shots-password-2026"
        flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
        superuser = ("create-superuser", "--email", email, "--password", password)
        run(*flask, *superuser, cwd=where, env=env)
        admin = browser.new_context(viewport=DESKTOP).new_page()
        admin.goto(f"{platform}/account/signin?next=/console/")
        admin.get_by_label("Email").fill(email)
        admin.get_by_label("Password", exact=True).fill(password)
        admin.get_by_role("button", name="Sign in", exact=True).click()
        admin.wait_for_url(re.compile(r"/account/security/totp\?next="))
        admin.get_by_role("button", name="Show the QR code").click()
        app = Authenticator(admin.locator("[data-totp-secret]").get_attribute("data-totp-secret"))
        admin.get_by_label("6-digit code from the app").fill(app.code())
        admin.get_by_role("button", name="Turn on").click()
        admin.get_by_role("link", name=re.compile("I've saved them")).click()
        admin.wait_for_url(re.compile(r"/console/$"))
        for name, path in CONSOLE.items():
            both_widths(admin, platform + path, out, name)
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commit", required=True)
    parser.add_argument("--port", type=int, default=7521)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="pasar-shots-"))
    where = scratch / "checkout"
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "REDIS_URL", "MAIL_SERVER", "JOBS_INLINE")
        },
        "DATABASE_URL": f"sqlite:///{scratch / 'shots.db'}",
        "PLATFORM_DOMAIN": f"pasar.localhost:{args.port}",
        "SECRET_KEY": "screenshots-only-secret-key",
        "MEDIA_ROOT": str(scratch / "media"),
        "SHUTDOWN_DRAIN_SECONDS": "0",  # no load balancer to tell: stop at once
    }
    worktree(args.commit, where)
    proc = None
    try:
        proc = serve(where, args.port, env)
        shoot(args.port, out, env, where)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        run("git", "-C", str(ROOT), "worktree", "remove", "--force", str(where))
        shutil.rmtree(scratch, ignore_errors=True)
    total = sum(p.stat().st_size for p in out.glob("*.png"))
    print(f"{len(list(out.glob('*.png')))} screenshots in {out}, {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
