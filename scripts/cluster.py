"""A local production-shaped cluster: nginx in front of two gunicorn instances, two RQ workers
and one cron, on PostgreSQL and Redis, serving the demo (`make cluster`).

    python scripts/cluster.py --port 8080 \\
        --database-url postgresql://postgres@127.0.0.1:5432/pasar_cluster \\
        --redis-url redis://127.0.0.1:6379/0

It creates the database if it is missing, migrates it and seeds the demo (`--no-setup` skips
that), renders the nginx config and Pasar's own "unavailable" page into the run directory, and
starts every process in a session of its own with its log under `<run-dir>/logs/`. Then it
supervises: a process that exits is started again (after 1 s, doubling to 30 s while it keeps
dying young); each instance's `/readyz` is polled every second and an instance that is not
ready (shutting down, dead) is marked `down` in nginx's upstream (reloaded with SIGHUP) while
the other one is. `<run-dir>/processes.json` names each process's current pid. Ctrl-C or
SIGTERM stops everything: the web instances and workers gracefully, nginx last.
"""

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
RESTART_MAX_WAIT = 30.0
YOUNG = 10.0  # a process that dies sooner than this after its start is "dying young"
# The `stream` process (Procfile): gevent workers hold thousands of idle SSE connections each.
STREAM_OPTIONS = ["--worker-class", "gevent", "--workers", "1", "--worker-connections", "10000"]


@dataclass
class Process:
    """One supervised child: its command, its log, and when to start it again."""

    name: str
    command: list[str]
    env: dict
    log_path: Path
    popen: subprocess.Popen | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    backoff: float = 1.0
    restarts: int = 0
    extra: dict = field(default_factory=dict)

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(  # noqa: S603 (our own command lines)
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in the terminal reaches the launcher only
            )
        self.started_at = time.monotonic()
        self.restart_at = None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, signum: int) -> None:
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.popen.pid, signum)

    def kill_group(self) -> None:
        """SIGKILL what is left of the process's session (a gunicorn worker, a work horse)."""
        if self.popen is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)


class Cluster:
    """The processes, the nginx config they need, and the supervision loop."""

    def __init__(self, args, env: dict):
        self.args, self.env = args, env
        self.run_dir = Path(args.run_dir).resolve()
        self.logs = self.run_dir / "logs"
        self.stopping = False
        self.web_ports = args.web_ports or [args.port + 1 + i for i in range(args.web)]
        self.ready = {port: True for port in self.web_ports}
        # The live update streams (app/live/) have a process of their own: gevent, one port.
        self.stream_port = getattr(args, "stream_port", None) or max(self.web_ports) + 1
        self.processes: list[Process] = []
        self.nginx: Process | None = None

    # --- setup ----------------------------------------------------------------------------

    def prepare(self) -> None:
        for folder in (self.logs, self.run_dir / "nginx-tmp", self.run_dir / "errors"):
            folder.mkdir(parents=True, exist_ok=True)
        self.write_error_page()
        self.write_nginx_config()

    def write_error_page(self) -> None:
        """Pasar's 503 page, rendered from the templates, for nginx to send when no app can."""
        from app import create_app
        from app.errors import TITLES

        app = create_app()
        with app.test_request_context("/", base_url=f"http://{self.env['PLATFORM_DOMAIN']}/"):
            from flask import render_template

            html = render_template(
                "errors/error.html",
                code=503,
                title=TITLES.get(503, "Service unavailable"),
                message="Pasar is restarting or under maintenance.",
                retry_after=10,
                retry_in="in a few seconds",
                bare=True,
            )
        (self.run_dir / "errors" / "unavailable.html").write_text(html)

    def write_nginx_config(self) -> None:
        from jinja2 import Template

        from app.catalog.images import SIZES

        sizes = "|".join(sorted(SIZES))
        media_pattern = (
            rf"[0-9]{{1,12}}/(?:[0-9a-f]{{32}}/(?:{sizes})\.webp|logo-[0-9a-f]{{16}}\.webp)"
        )
        template = Template((ROOT / "scripts" / "nginx.conf.j2").read_text())
        webs = [
            # A port that isn't ready is marked down only while another one is ready.
            {
                "address": f"127.0.0.1:{port}",
                "down": not self.ready[port] and any(self.ready.values()),
            }
            for port in self.web_ports
        ]
        max_body = int(self.env.get("MAX_CONTENT_LENGTH") or 16 * 1024 * 1024)
        text = template.render(
            # As root, nginx's workers would run as `nobody`, who can't read a private run
            # directory: they run as whoever started the cluster, as they do for everyone else.
            user="root root" if os.geteuid() == 0 else None,
            run_dir=self.run_dir,
            root=ROOT,
            listen=f"{self.args.host}:{self.args.port}",
            webs=webs,
            stream=f"127.0.0.1:{self.stream_port}",
            media_root=self.env.get("MEDIA_ROOT") or ROOT / "instance" / "media",
            media_pattern=media_pattern,
            client_max_body_size=f"{max_body // (1024 * 1024) + 1}m",
        )
        (self.run_dir / "nginx.conf").write_text(text)

    def build(self) -> None:
        flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
        for i, port in enumerate(self.web_ports, 1):
            metrics = self.run_dir / f"metrics-web{i}"
            env = {
                **self.env,
                "PORT": str(port),
                "PROMETHEUS_MULTIPROC_DIR": str(metrics),
                "WEB_CONCURRENCY": str(self.args.web_workers),
                "WEB_THREADS": str(self.args.web_threads),
            }
            command = [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                str(ROOT / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{port}",
                "--no-control-socket",  # two gunicorns would share ~/.gunicorn/gunicorn.ctl
                "wsgi:app",
            ]
            process = Process(f"web{i}", command, env, self.logs / f"web{i}.log")
            process.extra["port"] = port
            self.processes.append(process)
        stream_command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(ROOT / "gunicorn.conf.py"),
            *STREAM_OPTIONS,
            "--bind",
            f"127.0.0.1:{self.stream_port}",
            "--no-control-socket",
            "wsgi:app",
        ]
        self.processes.append(
            Process(
                "stream",
                stream_command,
                {**self.env, "PROMETHEUS_MULTIPROC_DIR": str(self.run_dir / "metrics-stream")},
                self.logs / "stream.log",
            )
        )
        for i in range(1, self.args.workers + 1):
            self.processes.append(
                Process(f"worker{i}", [*flask, "worker"], self.env, self.logs / f"worker{i}.log")
            )
        self.processes.append(Process("cron", [*flask, "cron"], self.env, self.logs / "cron.log"))
        self.nginx = Process(
            "nginx",
            [
                NGINX,
                "-p",
                str(self.run_dir),
                "-c",
                str(self.run_dir / "nginx.conf"),
                "-e",
                str(self.logs / "nginx-error.log"),
            ],
            self.env,
            self.logs / "nginx.log",
        )

    # --- running --------------------------------------------------------------------------

    def start(self) -> None:
        test = subprocess.run(  # noqa: S603
            [*self.nginx.command, "-t", "-q"], capture_output=True, text=True
        )
        if test.returncode:
            raise SystemExit(f"nginx refuses the rendered config:\n{test.stderr}")
        for process in self.processes:
            process.start()
        self.nginx.start()
        self.write_pids()

    def everything(self) -> list[Process]:
        return [*self.processes, self.nginx]

    def write_pids(self) -> None:
        pids = {p.name: p.pid for p in self.everything()}
        pids["launcher"] = os.getpid()
        tmp = self.run_dir / "processes.json.tmp"
        tmp.write_text(json.dumps(pids))
        tmp.replace(self.run_dir / "processes.json")

    def log(self, message: str) -> None:
        print(f"[cluster {time.strftime('%H:%M:%S')}] {message}", flush=True)

    def supervise_once(self) -> None:
        """Restart what died (with backoff); follow the instances' readiness in nginx."""
        now = time.monotonic()
        changed = False
        for process in self.everything():
            if process.running():
                if now - process.started_at > YOUNG:
                    process.backoff = 1.0
                continue
            if process.restart_at is None:
                code = process.popen.returncode if process.popen else None
                process.kill_group()  # leftovers of a killed parent would hold its port
                process.restart_at = now + process.backoff
                self.log(
                    f"{process.name} exited ({code}); starting it again in {process.backoff:g} s"
                )
                if now - process.started_at < YOUNG:
                    process.backoff = min(process.backoff * 2, RESTART_MAX_WAIT)
            elif now >= process.restart_at:
                process.start()
                process.restarts += 1
                changed = True
                self.log(f"{process.name} started again (pid {process.pid})")
        if changed:
            self.write_pids()
        self.follow_readiness()

    def follow_readiness(self) -> None:
        ready = {}
        for process in self.processes:
            port = process.extra.get("port")
            if port is None:
                continue
            try:
                response = requests.get(
                    f"http://127.0.0.1:{port}/readyz",
                    headers={"Host": self.env["PLATFORM_DOMAIN"]},
                    timeout=3,
                )
                ready[port] = response.status_code == 200
            except requests.Timeout:
                ready[port] = self.ready[port]  # busy, not gone: leave it as it was
            except requests.RequestException:
                ready[port] = False
        if ready != self.ready:
            self.ready = ready
            self.write_nginx_config()
            self.nginx.signal(signal.SIGHUP)
            states = ", ".join(f"{port} {'up' if ok else 'down'}" for port, ok in ready.items())
            self.log(f"nginx upstreams: {states}")

    def run(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self.request_stop)
        self.start()
        self.log(
            f"nginx on http://{self.env['PLATFORM_DOMAIN']}/ in front of "
            f"{', '.join(map(str, self.web_ports))}; logs in {self.logs}"
        )
        while not self.stopping:
            self.supervise_once()
            time.sleep(self.args.interval)
        self.stop()

    def request_stop(self, signum, frame) -> None:
        if self.stopping:  # a second Ctrl-C: stop at once
            for process in self.everything():
                process.kill_group()
            raise SystemExit(1)
        self.stopping = True

    def stop(self) -> None:
        """SIGTERM to every app process (graceful), wait, then nginx; SIGKILL what is left."""
        self.log("stopping")
        for process in self.processes:
            process.signal(signal.SIGTERM)
        deadline = time.monotonic() + self.args.stop_timeout
        for process in self.processes:
            while process.running() and time.monotonic() < deadline:
                time.sleep(0.1)
        self.nginx.signal(signal.SIGQUIT)  # nginx's graceful stop
        end = time.monotonic() + 10
        while self.nginx.running() and time.monotonic() < end:
            time.sleep(0.1)
        for process in self.everything():
            process.kill_group()
            if process.popen is not None:
                process.popen.wait()
        self.log("stopped")


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database named in `url` if it does not exist."""
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [parsed.database])
        if found.fetchone() is None:
            conn.execute(f'CREATE DATABASE "{parsed.database}"')


def secret_key(run_dir: Path) -> str:
    """SECRET_KEY from the environment, else one kept in the run directory across restarts."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = run_dir / "secret_key"
    if not path.exists():
        run_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address nginx listens on")
    parser.add_argument(
        "--port", type=int, default=8080, help="nginx; the instances use the next ports"
    )
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    parser.add_argument("--run-dir", default=str(ROOT / "instance" / "cluster"))
    parser.add_argument("--web", type=int, default=2, help="gunicorn instances")
    parser.add_argument(
        "--web-ports",
        type=lambda text: [int(port) for port in text.split(",")],
        help="the instances' ports, comma-separated (default: the ports after --port)",
    )
    parser.add_argument("--web-workers", type=int, default=2, help="processes per instance")
    parser.add_argument(
        "--stream-port", type=int, help="the live-stream process's port (after the web ports)"
    )
    parser.add_argument("--web-threads", type=int, default=4, help="threads per process")
    parser.add_argument("--workers", type=int, default=2, help="`flask worker` processes")
    parser.add_argument("--interval", type=float, default=1.0, help="supervision poll (s)")
    parser.add_argument("--stop-timeout", type=float, default=40.0)
    parser.add_argument("--no-setup", action="store_true", help="skip create/migrate/seed")
    parser.add_argument("--seed-products", type=int, default=200)
    args = parser.parse_args(argv)
    if not args.database_url or not args.database_url.startswith("postgresql"):
        parser.error("--database-url (or DATABASE_URL) must be a postgresql:// URL")
    if not args.redis_url:
        parser.error("--redis-url (or REDIS_URL) is required")
    run_dir = Path(args.run_dir).resolve()
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "SECRET_KEY": secret_key(run_dir),
        "PLATFORM_DOMAIN": os.environ.get("PLATFORM_DOMAIN") or f"pasar.localhost:{args.port}",
        # nginx is the one proxy hop: its X-Forwarded-For/-Proto are believed, nothing more.
        "TRUSTED_PROXIES": "1",
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    if not args.no_setup:
        ensure_database(args.database_url)
        flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
        subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True)  # noqa: S603
        subprocess.run(  # noqa: S603
            [*flask, "seed-demo", "--products", str(args.seed_products)],
            cwd=ROOT,
            env=env,
            check=True,
        )
    cluster = Cluster(args, env)
    cluster.prepare()
    cluster.build()
    cluster.run()


if __name__ == "__main__":
    main()
