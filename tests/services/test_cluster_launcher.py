"""scripts/cluster.py without starting the cluster: the nginx config it renders, and its
supervision. The cluster itself runs in tests/deploy/test_cluster.py (marker `deploy`)."""

import importlib.util
import re
import shutil
import signal
import subprocess
import sys
import time
from argparse import Namespace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _launcher():
    spec = importlib.util.spec_from_file_location("cluster_launcher", ROOT / "scripts/cluster.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cluster(tmp_path, **ready):
    launcher = _launcher()
    args = Namespace(host="127.0.0.1", port=7566, web=2, web_ports=None, run_dir=str(tmp_path))
    env = {"PLATFORM_DOMAIN": "pasar.localhost:7566", "MEDIA_ROOT": str(tmp_path / "media")}
    cluster = launcher.Cluster(args, env)
    for folder in ("logs", "nginx-tmp", "errors"):
        (tmp_path / folder).mkdir(exist_ok=True)
    cluster.ready.update({int(port): state for port, state in ready.items()})
    cluster.write_nginx_config()
    return launcher, cluster, (tmp_path / "nginx.conf").read_text()


def test_nginx_passes_the_clients_host_and_one_hop_of_forwarding(tmp_path):
    _, cluster, conf = _cluster(tmp_path)
    assert cluster.web_ports == [7567, 7568]
    assert "server 127.0.0.1:7567 " in conf and "server 127.0.0.1:7568 " in conf
    assert "listen 127.0.0.1:7566 default_server;" in conf
    # Host as the client sent it, with its port; a forged X-Forwarded-Host never reaches the app
    # (the two app locations and the two live-stream locations).
    assert conf.count("proxy_set_header Host $http_host;") == 4
    assert conf.count('proxy_set_header X-Forwarded-Host "";') == 4
    # Live updates: their own gevent process, unbuffered.
    assert "server 127.0.0.1:7569 " in conf and "location ^~ /live/ {" in conf
    assert "location ^~ /console/live/ {" in conf and "proxy_buffering off;" in conf
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in conf
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in conf
    # The request id: the client's, else nginx's own, to the app and back.
    assert '"" $request_id;' in conf
    assert "proxy_set_header X-Request-ID $pasar_request_id;" in conf
    # Retries never send a POST twice: nginx's default unless `non_idempotent` is given.
    assert "proxy_next_upstream error timeout http_502 http_503 http_504;" in conf
    directives = "\n".join(line.split("#")[0] for line in conf.splitlines())
    assert "non_idempotent" not in directives
    # nginx's own failures get Pasar's page, as a 503.
    assert "error_page 502 503 504 =503 /_pasar/unavailable.html;" in conf


@pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx is not installed")
def test_nginx_accepts_the_rendered_config(tmp_path):
    _cluster(tmp_path)
    result = subprocess.run(
        [
            NGINX,
            "-t",
            "-p",
            str(tmp_path),
            "-c",
            str(tmp_path / "nginx.conf"),
            "-e",
            str(tmp_path / "logs/nginx-error.log"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_an_instance_that_is_not_ready_is_marked_down_while_the_other_is(tmp_path):
    _, _, conf = _cluster(tmp_path, **{"7567": False})
    assert "server 127.0.0.1:7567 max_fails=1 fail_timeout=5s down;" in conf
    assert "server 127.0.0.1:7568 max_fails=1 fail_timeout=5s;" in conf
    # With none ready, none is marked down: nginx tries them and answers with Pasar's page.
    _, _, conf = _cluster(tmp_path, **{"7567": False, "7568": False})
    assert " down;" not in conf


@pytest.mark.parametrize(
    ("path", "served"),
    [
        ("/media/12/" + "a" * 32 + "/thumb.webp", True),
        ("/media/12/" + "a" * 32 + "/large.webp", True),
        ("/media/3/logo-" + "b" * 16 + ".webp", True),
        ("/media/12/" + "a" * 32 + "/original.jpg", False),  # uploads are never served
        ("/media/12/" + "a" * 32 + "/thumb.webp/", False),
        ("/media/12/../../secret_key", False),
        ("/media/12/" + "A" * 32 + "/thumb.webp", False),
    ],
)
def test_nginx_serves_only_processed_media_itself(tmp_path, path, served):
    _, _, conf = _cluster(tmp_path)
    pattern = re.search(r'location ~ "(\^/media/.+\$)"', conf).group(1)
    assert bool(re.fullmatch(pattern, path)) is served


def test_a_process_that_dies_is_started_again(tmp_path):
    launcher, cluster, _ = _cluster(tmp_path)
    cluster.web_ports, cluster.ready = [], {}
    sleeper = launcher.Process(
        "sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], {}, tmp_path / "s.log"
    )
    cluster.processes = [sleeper]
    cluster.nginx = launcher.Process(
        "nginx", [sys.executable, "-c", "import time; time.sleep(60)"], {}, tmp_path / "n.log"
    )
    try:
        sleeper.start()
        cluster.nginx.start()
        first = sleeper.pid
        sleeper.popen.send_signal(signal.SIGKILL)
        sleeper.popen.wait()
        cluster.supervise_once()  # noticed: restart scheduled after the backoff
        assert not sleeper.running() and sleeper.restart_at is not None
        sleeper.restart_at = time.monotonic()
        cluster.supervise_once()
        assert sleeper.running() and sleeper.pid != first and sleeper.restarts == 1
        # It died young, so the next wait is longer.
        assert sleeper.backoff == 2.0
        assert f'"sleeper": {sleeper.pid}' in (tmp_path / "processes.json").read_text()
    finally:
        for process in (sleeper, cluster.nginx):
            process.kill_group()
            if process.popen is not None:
                process.popen.wait()
