"""A real JupyterHub on 127.0.0.1 (issue 24 item 2): jupyterhub 6.1.1 (PyPI) with
configurable-http-proxy 5.3.0 (npm, `make hub-tools`), LocalProcessSpawner, DummyAuthenticator.

Two real OS users (created for the test, removed after it) log in through the hub's login form
and REST API; each server starts with deploy/start-singleuser.sh, which copies the lessons into
the user's own home; in each user's kernel the kit loads trained weights from the read-only
shared folder (LAB_UTILS_SHARED) without training, cannot write there, and cannot read the
other user's home. Needs root (to create users and spawn as them); skipped otherwise.
Default: a small model (170 s in all). LAB_UTILS_HUB_LESSON=04: the whole lesson 04 in each
user's server (966 s in all at load 17-20: both users loaded its 10 trainings from the shared
folder).
"""

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import requests

PROJECT = Path(__file__).resolve().parent.parent
PROXY = PROJECT / "node_modules" / ".bin" / "configurable-http-proxy"
START = PROJECT / "deploy" / "start-singleuser.sh"
BIN = Path(sys.executable).parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

HUB_TEST = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="spawning as two OS users needs root"),
    pytest.mark.skipif(shutil.which("useradd") is None, reason="useradd is missing"),
    # CI installs node + npm (.ci/run) and make test the proxy: there a missing proxy fails.
    pytest.mark.skipif(
        not PROXY.exists() and not IN_CI, reason="no configurable-http-proxy: run make hub-tools"
    ),
    pytest.mark.skipif(not (BIN / "jupyterhub").exists(), reason="jupyterhub is not installed"),
]


def hub_test(function):
    """The marks of the local-hub test: slow, and skipped where it cannot run."""
    for mark in reversed(HUB_TEST):
        function = mark(function)
    return function


# What each user's kernel runs: the tiny training of tests/test_shared_layer.py through the
# kit's API (loaded from the shared folder, never trained), then the two isolation probes.
KERNEL_CODE = """
import json, os, pathlib
from lab_utils import models, lesson
import numpy as np
facts = {"user": os.getuid(), "home": os.environ["HOME"]}
if not LESSON:
    rng = np.random.default_rng(0)
    images = rng.random((24, 8, 8)).astype(np.float32)
    labels = rng.integers(0, 2, 24)
    lesson.import_keras().utils.set_random_seed(0)
    model = models.cnn_classifier((8, 8, 1), 2, filters=(4,))
    result = models.train(model, images, labels, epochs=1, batch_size=8)
    facts["from_cache"] = result.from_cache
try:
    os.listdir(OTHER_HOME)
    facts["other_home"] = "readable"
except PermissionError:
    facts["other_home"] = "denied"
try:
    pathlib.Path(os.environ["LAB_UTILS_SHARED"], "student-was-here").write_text("x")
    facts["shared"] = "writable"
except OSError:
    facts["shared"] = "read-only"
from lab_utils import data
personal = data.cache_dir() / "trained"  # the user's own cache, in their home
if LESSON:
    exec(LESSON_CODE)
facts["personal_trained"] = sorted(p.name for p in personal.glob("*")) if personal.exists() else []
print("FACTS " + json.dumps(facts))
"""

# LAB_UTILS_HUB_LESSON=04: instead, the instructor fills the shared folder with that whole lesson
# (`prepare --shared`, minutes), and in each user's kernel the lesson (the instructor version, i.e.
# with the exercises solved, copied into the user's home) runs top to bottom through nbclient, as
# `prepare` runs it, in a kernel started from the user's kernel with the user's environment.
LESSON = os.environ.get("LAB_UTILS_HUB_LESSON", "")
LESSON_CODE = """
import re, shutil, subprocess, sys
from lab_utils import prepare
solved = pathlib.Path.home() / "solved"
solved.mkdir(exist_ok=True)
for path in prepare.lesson_paths([LESSON]):
    shutil.copy(path, solved / path.name)
run = subprocess.run([sys.executable, "-m", "lab_utils.prepare", "--notebooks", str(solved), LESSON],
                     capture_output=True, text=True)
found = re.search(r"(\\d+) training\\(s\\) already cached; (.*)", run.stdout)
facts["lesson"] = run.stdout[-500:] + run.stderr[-500:]
facts["loaded"] = int(found.group(1)) if found else -1
facts["lesson_errors"] = found.group(2) if found else "no result line"
facts["from_cache"] = facts["loaded"] > 0
"""

FILL_SHARED = """
from lab_utils import models, lesson
import numpy as np
rng = np.random.default_rng(0)
images = rng.random((24, 8, 8)).astype(np.float32)
labels = rng.integers(0, 2, 24)
lesson.import_keras().utils.set_random_seed(0)
model = models.cnn_classifier((8, 8, 1), 2, filters=(4,))
assert not models.train(model, images, labels, epochs=1, batch_size=8).from_cache
"""


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def readable_by_others(path):
    """Whether a user other than root can run ``path`` (every parent folder enterable)."""
    path = Path(path).resolve()
    parents_open = all(parent.stat().st_mode & 0o001 for parent in path.parents)
    return parents_open and path.stat().st_mode & 0o005 == 0o005


@pytest.fixture(scope="module")
def server_bin():
    """The bin/ folder whose ``python`` the users' servers and kernels run.

    The kit's .venv, when other users can run its interpreter. Here it is a symlink into
    /root (mode 0700), so the test builds a bridge: a venv of the system's Python of the same
    minor version (3.11) whose only content is a .pth line adding .venv's site-packages; the
    same packages and the same lab_utils, only the interpreter binary differs.
    """
    if readable_by_others(sys.executable):
        yield BIN
        return
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system_python = shutil.which(version, path="/usr/bin:/usr/local/bin")
    if system_python is None or not readable_by_others(system_python):
        pytest.skip(f"the kit's Python is not readable by other users and no /usr/bin/{version}")
    folder = Path(tempfile.mkdtemp(prefix="lab_utils_hub_python_"))
    subprocess.run([system_python, "-m", "venv", "--without-pip", str(folder)], check=True)
    site_packages = next(Path(p) for p in sys.path if p.endswith("site-packages"))
    (folder / "lib" / version / "site-packages" / "kit.pth").write_text(
        f"import site; site.addsitedir({str(site_packages)!r})\n"
    )
    subprocess.run(["chmod", "-R", "a+rX", str(folder)], check=True)
    yield folder / "bin"
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def users():
    """Two real OS users with homes of mode 0700; removed (with their homes) afterwards."""
    tag = uuid.uuid4().hex[:6]
    names = [f"luhub{tag}a", f"luhub{tag}b"]
    for name in names:
        subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], check=True)
        os.chmod(pwd.getpwnam(name).pw_dir, 0o700)
    yield names
    for name in names:
        subprocess.run(["pkill", "-KILL", "-u", name], check=False)
        subprocess.run(["userdel", "-r", name], check=False, capture_output=True)


@pytest.fixture
def shared():
    """A shared folder filled by the instructor (root), readable by all, writable by none else."""
    folder = Path("/srv") / f"lab_utils_test_{uuid.uuid4().hex[:6]}"
    folder.mkdir(parents=True)
    if LESSON:  # the instructor's command: the lesson's own trainings, readable by all
        filled = subprocess.run(
            [sys.executable, "-m", "lab_utils.prepare", "--shared", str(folder), LESSON],
            capture_output=True,
            text=True,
            timeout=3600,
        )
        assert filled.returncode == 0, filled.stdout + filled.stderr
    else:
        environment = {**os.environ, "LAB_UTILS_CACHE": str(folder)}
        environment.pop("LAB_UTILS_SHARED", None)
        subprocess.run([sys.executable, "-c", FILL_SHARED], env=environment, check=True)
        from lab_utils import prepare

        prepare.readable_by_everyone(folder)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def hub_config(folder, port, shared_folder, names, server_bin):
    path = folder / "jupyterhub_config.py"
    settings = {
        "port": port,
        "hub_port": free_port(),
        "api_port": free_port(),
        "proxy": str(PROXY),
        "start": str(START),
        "bin": str(server_bin),
        "shared": str(shared_folder),
        "users": names,
        "folder": str(folder),
    }
    path.write_text(
        f"settings = {json.dumps(settings)}\n"
        + """
c = get_config()  # noqa: F821
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = settings["port"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = settings["hub_port"]
c.ConfigurableHTTPProxy.command = [settings["proxy"]]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings['api_port']}"
c.JupyterHub.db_url = f"sqlite:///{settings['folder']}/hub.sqlite"
c.JupyterHub.cookie_secret_file = f"{settings['folder']}/cookie_secret"
c.JupyterHub.pid_file = f"{settings['folder']}/hub.pid"
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = "lesson-password"
c.Authenticator.allowed_users = set(settings["users"])
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [settings["start"]]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
c.Spawner.environment = {
    "PATH": settings["bin"] + ":/usr/bin:/bin",
    "LAB_UTILS_SHARED": settings["shared"],
    "LAB_UTILS_OFFLINE": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "MPLBACKEND": "Agg",
}
c.JupyterHub.cleanup_servers = True
"""
    )
    return path


def wait_for(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out after {seconds} s waiting for {what}")


def up(url):
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def log_in(base, name):
    """Log in through the hub's form (as a browser does); returns a session and an API token."""
    session = requests.Session()
    session.get(f"{base}/hub/login", timeout=10)
    xsrf = session.cookies.get("_xsrf", "")
    response = session.post(
        f"{base}/hub/login",
        data={"username": name, "password": "lesson-password", "_xsrf": xsrf},
        timeout=30,
    )
    assert response.status_code == 200, response.text[:300]
    assert session.cookies.get("jupyterhub-hub-login"), "the hub set its login cookie"
    headers = {"X-XSRFToken": session.cookies.get("_xsrf", xsrf), "Referer": f"{base}/hub/"}
    token = session.post(
        f"{base}/hub/api/users/{name}/tokens", json={"note": "test"}, headers=headers, timeout=30
    )
    assert token.status_code in (200, 201), token.text[:300]
    return session, token.json()["token"]


def run_in_kernel(base, name, token, code, seconds=300):
    """Start a kernel in the user's server (through the hub's proxy), run ``code``, return the
    stdout it printed."""
    from tornado import httpclient, ioloop, websocket

    headers = {"Authorization": f"token {token}"}
    kernel = requests.post(f"{base}/user/{name}/api/kernels", headers=headers, timeout=60).json()
    url = f"{base.replace('http', 'ws')}/user/{name}/api/kernels/{kernel['id']}/channels"
    message_id = uuid.uuid4().hex
    request = {
        "header": {
            "msg_id": message_id,
            "msg_type": "execute_request",
            "username": name,
            "session": uuid.uuid4().hex,
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": {"code": code, "silent": False, "store_history": False},
        "channel": "shell",
    }

    async def exchange():
        connection = await websocket.websocket_connect(httpclient.HTTPRequest(url, headers=headers))
        connection.write_message(json.dumps(request))
        printed, deadline = [], time.monotonic() + seconds
        while time.monotonic() < deadline:
            raw = await connection.read_message()
            if raw is None:
                break
            message = json.loads(raw)
            if message.get("parent_header", {}).get("msg_id") != message_id:
                continue
            kind = message["header"]["msg_type"]
            if kind == "stream":
                printed.append(message["content"]["text"])
            elif kind == "error":
                printed.append("\n".join(message["content"]["traceback"]))
            elif kind == "execute_reply":
                break
        connection.close()
        return "".join(printed)

    return ioloop.IOLoop.current().run_sync(exchange, timeout=seconds + 30)


@hub_test
def test_two_students_on_a_local_jupyterhub_share_weights_and_nothing_else(
    tmp_path, users, shared, server_bin
):
    folder = tmp_path / "hub"
    folder.mkdir()
    port = free_port()
    config = hub_config(folder, port, shared, users, server_bin)
    log = open(folder / "hub.log", "w")
    hub = subprocess.Popen(
        [str(BIN / "jupyterhub"), "-f", str(config)],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: up(f"{base}/hub/api/"), 90, "the hub")
        facts = {}
        for name in users:
            session, token = log_in(base, name)
            started = session.post(
                f"{base}/hub/api/users/{name}/server",
                headers={"Authorization": f"token {token}"},
                timeout=60,
            )
            assert started.status_code in (201, 202), started.text[:300]
            wait_for(
                lambda n=name, t=token: (
                    requests.get(
                        f"{base}/hub/api/users/{n}",
                        headers={"Authorization": f"token {t}"},
                        timeout=10,
                    )
                    .json()["servers"]
                    .get("", {})
                    .get("ready")
                ),
                240,
                f"{name}'s server",
            )
            listing = requests.get(
                f"{base}/user/{name}/api/contents/lessons",
                headers={"Authorization": f"token {token}"},
                timeout=30,
            ).json()
            names = sorted(entry["name"] for entry in listing["content"])
            assert "04_cnns.ipynb" in names, names
            home = Path(pwd.getpwnam(name).pw_dir)
            copy = home / "lessons" / "04_cnns.ipynb"
            assert copy.stat().st_uid == pwd.getpwnam(name).pw_uid, "the user's own copy"
            assert "### BEGIN SOLUTION" not in copy.read_text(), "a student version"
            other = [n for n in users if n != name][0]
            code = f"OTHER_HOME = {str(Path(pwd.getpwnam(other).pw_dir))!r}\n"
            code += f"LESSON = {LESSON!r}\nLESSON_CODE = {LESSON_CODE!r}\n" + KERNEL_CODE
            printed = run_in_kernel(base, name, token, code, seconds=1800 if LESSON else 300)
            line = [text for text in printed.splitlines() if text.startswith("FACTS ")]
            assert line, printed[-2000:]
            facts[name] = json.loads(line[0][len("FACTS ") :])
        for name in users:
            assert facts[name]["user"] == pwd.getpwnam(name).pw_uid, "the kernel runs as the user"
            assert facts[name]["from_cache"] is True, "loaded from the shared folder, no training"
            assert facts[name]["personal_trained"] == [], "nothing trained into the user's cache"
            assert facts[name]["other_home"] == "denied", "the other student's folder is closed"
            assert facts[name]["shared"] == "read-only"
            if LESSON:
                assert facts[name]["lesson_errors"] == "ok", facts[name]["lesson"]
                print(
                    f"{name}: lesson {LESSON}: {facts[name]['loaded']} trainings from the shared folder"
                )
        assert not (shared / "student-was-here").exists()
    finally:
        os.killpg(hub.pid, 15)
        try:
            hub.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(hub.pid, 9)
        log.close()
        print((folder / "hub.log").read_text()[-3000:])


# --- deploy/: the files for a real course agree with the kit and with each other -------------


def test_the_deploy_files_agree_with_the_kit():
    import re

    import yaml

    deploy = PROJECT / "deploy"
    dockerfile = (deploy / "Dockerfile").read_text()
    for line in re.findall(r"^COPY (.+)$", dockerfile, flags=re.M):
        for source in line.split()[:-1]:
            assert (PROJECT / source).exists(), f"Dockerfile copies {source}, which is missing"
    assert os.access(START, os.X_OK)
    values = yaml.safe_load((deploy / "values.yaml").read_text())
    single = values["singleuser"]
    shared = re.search(r"LAB_UTILS_SHARED=(\S+)", dockerfile).group(1)
    assert single["extraEnv"]["LAB_UTILS_SHARED"] == shared
    mounts = {m["mountPath"]: m for m in single["storage"]["extraVolumeMounts"]}
    assert mounts[shared]["readOnly"] is True
    assert single["cmd"] == "start-singleuser.sh" and values["cull"]["enabled"] is True
    # The memory guarantee holds the largest measured lesson-kernel peak (benchmarks/RESULTS.md)
    results = (PROJECT / "benchmarks" / "RESULTS.md").read_text()
    peaks = [int(m) for m in re.findall(r"peak memory of the kernel.*?/ (\d+) MiB", results)]
    assert len(peaks) >= 6
    gigabytes = float(single["memory"]["guarantee"].rstrip("G"))
    assert gigabytes * 1e9 > max(peaks) * 2**20 + 150 * 2**20, (gigabytes, max(peaks))
    assert float(single["memory"]["limit"].rstrip("G")) >= 2 * gigabytes
    jobs = list(yaml.safe_load_all((deploy / "grading-job.yaml").read_text()))
    job = jobs[0]["spec"]
    environment = {e["name"]: e["value"] for e in job["template"]["spec"]["containers"][0]["env"]}
    assert job["completionMode"] == "Indexed"
    assert environment["LAB_UTILS_SHARDS"] == str(job["completions"])
    assert "--shard" in job["template"]["spec"]["containers"][0]["command"]
