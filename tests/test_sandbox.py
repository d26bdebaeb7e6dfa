"""The kernel sandbox (``lab_utils.sandbox``) against issue 19's findings.

Run as root (containers, CI, this machine), a sandboxed command (and a real Jupyter kernel
started through the grading kernelspec) is host uid 65534: it cannot read ``/etc/shadow`` and
what it makes is not root's. It gets an allow-list of the grader's environment, no token. No
host folder is writable inside, the runtime folder included: every writable place is the
sandbox's size-capped memory file system. 300 forks fail, and several processes together
cannot hold more memory than the sandbox's limit (cgroup where the machine offers one, the
watchdog everywhere).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from lab_utils import grading, sandbox

AS_ROOT = os.geteuid() == 0
PREFIXES = sorted({sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix})
KIT = str(grading.PROJECT / "lab_utils")
TOKENS = {
    "GITHUB_TOKEN": "ghp_leaked0123456789",
    "AWS_SECRET_ACCESS_KEY": "aws-leaked-secret",
    "AWS_ACCESS_KEY_ID": "AKIALEAKED",
    "JUPYTER_TOKEN": "jupyter-leaked",
    "DATABASE_URL": "postgres://grader:pw-leaked@db/grades",
}
root_only = pytest.mark.skipif(not AS_ROOT, reason="only a grader run as root maps root")


@pytest.fixture(autouse=True, scope="module")
def _sandbox_works():
    reason = sandbox.available()
    if reason:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            raise RuntimeError(f"CI must be able to sandbox grading kernels: {reason}")
        pytest.skip(reason)


def make_config(tmp_path: Path, **extra) -> Path:
    config = {"scratch": str(tmp_path / "scratch"), "read_only": [*PREFIXES, KIT], **extra}
    path = tmp_path / "sandbox.json"
    path.write_text(json.dumps(config))
    (tmp_path / "start").mkdir(exist_ok=True)
    return path


def sandboxed(tmp_path, code, *arguments, env=None, timeout=60, **extra):
    """Run ``python -c code arguments...`` in a sandbox; the finished process."""
    config = make_config(tmp_path, **extra)
    return subprocess.run(
        sandbox.command(config, [sys.executable, "-c", code, *arguments]),
        cwd=tmp_path / "start",
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def last_json(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def sandboxed_command_pid(outer: int) -> int:
    """The host pid of the command (not the sandbox's own two processes) started by ``outer``."""
    for pid in sandbox._processes_under(outer):
        if b"lab_utils.sandbox" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return pid
    raise AssertionError("the sandboxed command is not running")


def host_ids(pid: int) -> tuple[list[int], list[int]]:
    """(real, effective, saved, fs uids), the same for gids, of a process, as the host sees."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    found = {line.split(":")[0]: line.split()[1:] for line in lines}
    return [int(x) for x in found["Uid"]], [int(x) for x in found["Gid"]]


# --- who the command is ----------------------------------------------------------------

IDENTITY_PROBE = """
import json, os, sys
seen = {"uid": os.getuid(), "groups": os.getgroups()}
try:
    open("/etc/shadow").read()
    seen["shadow"] = "read"
except OSError as error:
    seen["shadow"] = type(error).__name__
for place in ("/tmp/made", os.path.expanduser("~/made"), "made"):
    open(place, "w").write("x")
print(json.dumps(seen), flush=True)
sys.stdin.read()  # until the test has looked from outside
"""


@root_only
@pytest.mark.parametrize("outside", [None, 4242])
def test_run_as_root_the_command_is_an_unprivileged_host_user(tmp_path, outside):
    extra = {} if outside is None else {"outside_uid": outside, "outside_gid": outside}
    expected = 65534 if outside is None else outside
    config = make_config(tmp_path, **extra)
    process = subprocess.Popen(
        sandbox.command(config, [sys.executable, "-c", IDENTITY_PROBE]),
        cwd=tmp_path / "start",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        seen = json.loads(process.stdout.readline() or "null")
        assert seen is not None, process.stderr.read()
        command = sandboxed_command_pid(process.pid)
        uids, gids = host_ids(command)
        made = [
            os.stat(f"/proc/{command}/root{place}").st_uid
            for place in ("/tmp/made", "/home/student/made", f"{tmp_path}/start/made")
        ]
    finally:
        process.stdin.close()
        process.wait(timeout=30)
    assert seen == {"uid": 1000, "groups": [], "shadow": "PermissionError"}
    assert uids == [expected] * 4 and gids == [expected] * 4
    assert made == [expected] * 3
    assert process.returncode == 0


@root_only
def test_run_as_root_a_shared_path_the_sandbox_user_cannot_read_is_named(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    result = sandboxed(tmp_path, "pass", read_only=[*PREFIXES, str(private)])
    assert result.returncode == 70
    assert f"{private} is not readable by uid 65534" in result.stderr


@root_only
def test_run_by_an_unprivileged_user_the_command_is_that_user(tmp_path):
    """As user 1000 of a user namespace (host root underneath, so Python stays readable)."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare command")
    config = make_config(tmp_path)
    probe = "import os; print(os.getuid(), *open('/proc/self/uid_map').read().split())"
    result = subprocess.run(
        ["unshare", "--user", "--map-user=1000", "--map-group=1000"]
        + sandbox.command(config, [sys.executable, "-c", probe]),
        cwd=tmp_path / "start",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    # 1000 inside is the outer namespace's 0: the invoker (run as root, it would be 65534)
    assert result.stdout.split() == ["1000", "1000", "0", "1"]


CLONE_PROBE = """
import errno, json, os, sys
clone = sys.argv[1]
def attempt(path):
    try:
        open(path, "w").write("x")
        return "DONE"
    except OSError as error:
        return errno.errorcode[error.errno]
print(json.dumps({
    "clone_root": attempt(os.path.join(clone, "escaped.txt")),
    "kit": attempt(os.path.join(clone, "lab_utils", "escaped.py")),
    "tmp": attempt("/tmp/scratch.txt"),
    "seen": sorted(os.listdir(clone)),
}))
"""


@pytest.mark.parametrize("who", ["as invoked", "unprivileged user"])
def test_a_kit_cloned_under_tmp_stays_read_only_inside(tmp_path, who):
    """Issue 25: a clone under /tmp (/tmp/clone/lab_utils placed in the sandbox's private,
    writable /tmp) must look as a clone under /home does: the kit's folders read-only, not just
    owned by someone else (run by an unprivileged user, that user owns the skeleton's folders),
    and /tmp itself still the kernel's writable scratch space."""
    if who != "as invoked" and shutil.which("unshare") is None:
        pytest.skip("no unshare command")
    clone = Path(tempfile.mkdtemp(prefix="clone_", dir="/tmp"))
    try:
        (clone / "lab_utils").mkdir()
        (clone / "lab_utils" / "kit.py").write_text("KIT = 1\n")
        (clone / "README.md").write_text("not placed in the sandbox\n")
        clone.chmod(0o755)
        config = make_config(tmp_path, read_only=[*PREFIXES, str(clone / "lab_utils")])
        prefix = (
            []
            if who == "as invoked"
            else ["unshare", "--user", "--map-user=1000", "--map-group=1000"]
        )
        result = subprocess.run(
            prefix + sandbox.command(config, [sys.executable, "-c", CLONE_PROBE, str(clone)]),
            cwd=tmp_path / "start",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert last_json(result) == {
            "clone_root": "EROFS",
            "kit": "EROFS",
            "tmp": "DONE",
            "seen": ["lab_utils"],
        }
        assert sorted(path.name for path in clone.iterdir()) == ["README.md", "lab_utils"]
    finally:
        shutil.rmtree(clone)


@root_only
def test_root_that_cannot_map_nobody_is_refused_not_run_as_root(tmp_path):
    """Root of a namespace that maps only root (``unshare --map-root-user``, as the Makefile's
    SANDBOX=1 does): the kernel could only be root, so the sandbox refuses to start."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare command")
    config = make_config(tmp_path)
    result = subprocess.run(
        ["unshare", "--map-root-user"] + sandbox.command(config, [sys.executable, "-c", "1"]),
        cwd=tmp_path / "start",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 70
    assert "the kernel could only run as root" in result.stderr


# --- the environment -------------------------------------------------------------------


def test_the_command_gets_an_allow_list_of_the_environment_and_no_token(tmp_path):
    env = {
        **os.environ,
        **TOKENS,
        "LAB_UTILS_OFFLINE": "1",
        "LC_ALL": "C.UTF-8",
        "KERAS_BACKEND": "tensorflow",
        "OMP_NUM_THREADS": "2",
        "MY_SETTING": "asked for",
        "UNRELATED": "not asked for",
    }
    seen = last_json(
        sandboxed(
            tmp_path,
            "import json, os; print(json.dumps(dict(os.environ)))",
            env=env,
            environment={"ADDED": "by the config"},
            pass_environment=["MY_SETTING"],
        )
    )
    assert not set(TOKENS) & set(seen)
    assert not [value for value in seen.values() if "leaked" in value]
    assert "UNRELATED" not in seen
    for name in ("PATH", "LAB_UTILS_OFFLINE", "LC_ALL", "KERAS_BACKEND", "OMP_NUM_THREADS"):
        assert seen[name] == env[name]
    assert seen["MY_SETTING"] == "asked for" and seen["ADDED"] == "by the config"
    assert (seen["HOME"], seen["USER"], seen["TMPDIR"]) == ("/home/student", "student", "/tmp")
    own = {"HOME", "USER", "LOGNAME", "TMPDIR", "ADDED", "MY_SETTING"}
    assert all(
        name in own or name in sandbox.PASSED_NAMES or name.startswith(sandbox.PASSED_PREFIXES)
        for name in seen
    ), sorted(seen)


def test_secret_looking_names_are_dropped_even_under_an_allowed_prefix():
    environment = sandbox.kernel_environment(
        {"home": "/home/x"},
        {"JUPYTER_TOKEN": "t", "LAB_UTILS_API_KEY": "k", "JUPYTER_PATH": "/p", "PATH": "/b"},
    )
    assert environment["JUPYTER_PATH"] == "/p" and environment["PATH"] == "/b"
    assert "JUPYTER_TOKEN" not in environment and "LAB_UTILS_API_KEY" not in environment
    assert environment["HOME"] == "/home/x"


# --- the disk ----------------------------------------------------------------------------

DISK_PROBE = """
import json, os, sys
runtime, cache = sys.argv[1], sys.argv[2]
mounts = []
for line in open("/proc/self/mountinfo"):
    left, right = line.split(" - ")
    fields, more = left.split(), right.split()
    mounts.append({"at": fields[4], "device": fields[2], "options": fields[5].split(","),
                   "type": more[0], "super": more[2].split(",")})
def write(path, megabytes):
    written = 0
    try:
        with open(path, "wb") as handle:
            for _ in range(megabytes):
                handle.write(b"x" * 2**20)
                handle.flush()
                written += 1
    except OSError as error:
        return [written, error.errno]
    return [written, 0]
wrote = {
    "runtime": write(runtime + "/new.bin", 4),
    "cache": write(cache + "/trained/new.bin", 1),
    "cache_top": write(cache + "/new.bin", 1),
    "start": write("new.bin", 1),
    "cache_private": [len(open(cache + "/trained/private.bin").read()), 0],
}
os.remove(runtime + "/new.bin")
wrote["fill"] = write("/tmp/fill.bin", 200)
print(json.dumps({"mounts": mounts, "wrote": wrote}))
"""


def tree_state(folder: Path) -> dict:
    """Every file and folder under ``folder`` (itself included): (size, mtime, mode, owner)."""
    found = {}
    for path in [folder, *folder.rglob("*")]:
        info = path.lstat()
        found[str(path)] = (info.st_size, info.st_mtime_ns, info.st_mode, info.st_uid)
    return found


def test_nothing_the_command_writes_reaches_the_host_disk(tmp_path):
    runtime, cache = tmp_path / "runtime", tmp_path / "cache"
    runtime.mkdir()
    (runtime / "kernel-1.json").write_text("{}")
    (cache / "trained").mkdir(parents=True)
    (cache / "trained" / "old.bin").write_text("old")
    (cache / "trained" / "private.bin").write_text("kept with mode 600")
    (cache / "trained" / "private.bin").chmod(0o600)
    before = [tree_state(runtime), tree_state(cache)]
    seen = last_json(
        sandboxed(
            tmp_path,
            DISK_PROBE,
            str(runtime),
            str(cache),
            "-f",
            str(runtime / "kernel-1.json"),
            runtime=str(runtime),
            overlay=[str(cache)],
            disk=32 * 2**20,
        )
    )
    ENOSPC = 28
    assert seen["wrote"] == {
        "runtime": [4, 0],
        "cache": [1, 0],
        "cache_top": [1, 0],
        "start": [1, 0],
        "cache_private": [18, 0],
        "fill": [seen["wrote"]["fill"][0], ENOSPC],
    }
    assert seen["wrote"]["fill"][0] < 32, "the memory file system holds at most 'disk' bytes"
    root = next(mount for mount in seen["mounts"] if mount["at"] == "/")
    assert root["type"] == "tmpfs" and "size=32768k" in root["super"]
    writable = [mount for mount in seen["mounts"] if "rw" in mount["options"]]
    devices = {f"/dev/{name}" for name in sandbox.DEVICES}
    strays = [
        mount
        for mount in writable
        if not (mount["type"] == "tmpfs" and mount["device"] == root["device"])
        and mount["type"] not in ("overlay", "proc")
        and mount["at"] not in devices
    ]
    assert strays == [], "every writable place must be the sandbox's memory file system"
    assert str(runtime) in {mount["at"] for mount in writable}
    assert [tree_state(runtime), tree_state(cache)] == before, "the host folders are untouched"


# --- processes and memory ----------------------------------------------------------------

FORK_PROBE = """
import os, time
count = 0
for _ in range(300):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    count += 1
print(count)
"""


@pytest.mark.parametrize("processes", [None, 20])
def test_300_forks_fail(tmp_path, processes):
    extra = {} if processes is None else {"processes": processes}
    result = sandboxed(tmp_path, FORK_PROBE, **extra)
    assert result.returncode == 0, result.stderr
    forked = int(result.stdout.split()[-1])
    limit = processes or sandbox.DEFAULT_PROCESSES
    assert limit // 2 < forked < limit, "processes (and threads) are capped per sandbox"


MEMORY_PROBE = """
import json, subprocess, sys
size, count = int(sys.argv[1]), int(sys.argv[2])
child = ("import time; b = bytearray(%d * 2**20); print('held', flush=True); time.sleep(2); "
         "print('kept', flush=True)" % size)
children = [subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
            for _ in range(count)]
outputs = [process.communicate()[0] for process in children]
codes = [process.returncode for process in children]
print(json.dumps({"codes": codes, "kept": sum("kept" in output for output in outputs)}))
"""
LIMIT = 600 * 2**20


def run_memory_probe(tmp_path, guard, size, count):
    config = make_config(tmp_path, memory=LIMIT, memory_guard=guard)
    argv = [sys.executable, "-c", MEMORY_PROBE, str(size), str(count)]
    process = subprocess.Popen(
        sandbox.command(config, argv),
        cwd=tmp_path / "start",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = process.communicate(timeout=60)
    return process, out, err


def guards():
    made = sandbox.memory_guard()
    cgroup = pytest.mark.skipif(made == "watchdog", reason="no writable memory cgroup here")
    return [pytest.param("cgroup", marks=cgroup), "watchdog"]


@pytest.mark.slow
@pytest.mark.parametrize("guard", guards())
def test_three_children_cannot_hold_more_than_the_sandbox_s_memory(tmp_path, guard):
    """3 x 300 MB under a 600 MB limit (the issue's 3 x 2 GB under 4 GB, smaller)."""
    process, out, err = run_memory_probe(tmp_path, guard, 300, 3)
    if guard == "watchdog":  # everything stops, the outer process says why
        assert process.returncode == 137, err
        assert "over the sandbox's 600 MiB" in err
    else:  # the kernel's out-of-memory killer stops the largest processes only
        report = json.loads(out.strip().splitlines()[-1])
        assert report["kept"] < 3 and -9 in report["codes"], report
    for _, folder in sandbox._cgroup_folders():
        assert not (folder / f"{sandbox.CGROUP_PREFIX}{process.pid}").exists()


@pytest.mark.slow
@pytest.mark.parametrize("guard", guards())
def test_children_within_the_sandbox_s_memory_keep_it(tmp_path, guard):
    process, out, err = run_memory_probe(tmp_path, guard, 100, 3)
    assert process.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1]) == {"codes": [0, 0, 0], "kept": 3}


def test_memory_guard_names_what_this_machine_offers():
    assert sandbox.memory_guard() in ("cgroup v2", "cgroup v1", "watchdog")
    assert sandbox.memory_guard("watchdog") == "watchdog"


# --- a real Jupyter kernel through the grading kernelspec ----------------------------------


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    pytest.importorskip("ipykernel")
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    base = tmp_path_factory.mktemp("kernel")
    runtime = Path(tempfile.mkdtemp(prefix="lu-"))  # short: Unix socket paths < 108
    config = make_config(
        base,
        runtime=str(runtime),
        memory=4_000_000_000,
        disk=64 * 2**20,
        environment={"JUPYTER_RUNTIME_DIR": str(runtime)},
    )
    sandbox.write_kernelspec(base / "jupyter", config)
    specs = KernelSpecManager()
    specs.kernel_dirs = [str(base / "jupyter" / "kernels"), *specs.kernel_dirs]
    manager = KernelManager(
        kernel_name=sandbox.KERNEL_NAME, kernel_spec_manager=specs, transport="ipc"
    )
    manager.connection_file = str(runtime / "kernel-sandbox-test.json")
    manager.start_kernel(env={**os.environ, **TOKENS}, cwd=str(base / "start"))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)

        def run(code, timeout=30):
            texts = []

            def keep(message):
                content = message["content"]
                texts.append(content.get("text", "") or content.get("ename", ""))

            reply = client.execute_interactive(code, timeout=timeout, output_hook=keep)
            return "".join(texts), reply["content"]

        yield SimpleNamespace(manager=manager, client=client, runtime=runtime, run=run)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
        shutil.rmtree(runtime, ignore_errors=True)


def kernel_pid(runtime: Path) -> int:
    """The kernel's host pid, from a socket link: /proc/<pid>/root/<runtime>/<socket>."""
    links = [path for path in runtime.iterdir() if path.is_symlink()]
    assert len(links) == 5, sorted(runtime.iterdir())
    return int(os.readlink(links[0]).split("/")[2])


@pytest.mark.slow
@root_only
def test_a_kernel_started_as_root_cannot_read_etc_shadow_and_makes_nothing_of_root(kernel):
    text, reply = kernel.run(
        "import os\ntry:\n    open('/etc/shadow').read()\n    print('read')\n"
        "except OSError as error:\n    print(type(error).__name__)\n"
        "open(os.path.expanduser('~/made'), 'w').write('x')\nprint(os.getuid())"
    )
    assert reply["status"] == "ok"
    assert text.split() == ["PermissionError", "1000"]
    pid = kernel_pid(kernel.runtime)
    uids, gids = host_ids(pid)
    assert uids == [65534] * 4 and gids == [65534] * 4
    assert os.stat(f"/proc/{pid}/root/home/student/made").st_uid == 65534


@pytest.mark.slow
def test_a_kernel_does_not_see_the_grader_s_tokens(kernel):
    text, reply = kernel.run("import json, os\nprint(json.dumps(dict(os.environ)))")
    seen = json.loads(text)
    assert not set(TOKENS) & set(seen)
    assert not [value for value in seen.values() if "leaked" in value]
    assert seen["JUPYTER_RUNTIME_DIR"] == str(kernel.runtime)


@pytest.mark.slow
def test_a_kernel_s_runtime_folder_is_private_and_its_sockets_stay_put(kernel):
    text, reply = kernel.run(
        "import errno, os\nfolder = os.environ['JUPYTER_RUNTIME_DIR']\nwritten = 0\n"
        "try:\n    with open(folder + '/big', 'wb') as handle:\n        for _ in range(100):\n"
        "            handle.write(b'x' * 2**20); handle.flush(); written += 1\n"
        "except OSError as error:\n    print(written, errno.errorcode[error.errno])\n"
        "os.remove(folder + '/big')\n"
        "sockets = sorted(name for name in os.listdir(folder) if '-ipc-' in name)\n"
        "for name in sockets:\n    try:\n        os.rename(folder + '/' + name, folder + '/x')\n"
        "        print('moved', name)\n    except OSError as error:\n"
        "        print(errno.errorcode[error.errno])\n"
    )
    assert reply["status"] == "ok", text
    words = text.split()
    assert int(words[0]) < 64 and words[1] == "ENOSPC"  # the 64 MiB memory file system
    if AS_ROOT:  # handed to the sandbox's root in a sticky folder: the kernel cannot swap them
        assert words[2:] == ["EPERM"] * 5
    host = sorted(kernel.runtime.iterdir())
    assert [path.name for path in host if not path.is_symlink()] == ["kernel-sandbox-test.json"]
    assert all(os.readlink(path).startswith("/proc/") for path in host if path.is_symlink())
    assert kernel.run("print(6 * 7)")[0].strip() == "42", "the kernel must still answer"


@pytest.mark.slow
def test_a_kernel_can_still_be_interrupted(kernel):
    message = kernel.client.execute("import time\ntime.sleep(60)")
    time.sleep(1.5)
    kernel.manager.interrupt_kernel()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        reply = kernel.client.get_shell_msg(timeout=15)
        if reply["parent_header"].get("msg_id") == message:
            break
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert kernel.run("print('alive')")[0].strip() == "alive"
