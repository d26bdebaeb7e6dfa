"""Run one command (a grading kernel) in a throw-away Linux sandbox (instructors only).

``python -m lab_utils.sandbox CONFIG.json -- COMMAND...`` runs COMMAND

* in new user, mount, PID, network, IPC and UTS namespaces (no root needed where unprivileged
  user namespaces are allowed);
* **never as host root**: run by root (containers, CI), the sandbox's user is host uid
  ``outside_uid`` (default 65534, ``nobody``; group ``outside_gid``, default 65534) with no
  supplementary groups, so it reads only what every user may read (not ``/etc/shadow``) and
  what it creates belongs to that id; run by anyone else, it is that user, as before. Inside,
  it is ``uid`` (default 1000, "student");
* with only an **allow-list of environment variables** (:data:`PASSED_NAMES`,
  :data:`PASSED_PREFIXES`; never a name that looks like a secret, :data:`SECRET_NAME`), ``HOME``,
  ``USER`` and ``TMPDIR`` set by the sandbox, plus the config's ``"environment"``: a token in the
  grader's environment (``GITHUB_TOKEN``, ``AWS_SECRET_ACCESS_KEY``) never reaches the kernel;
* on a new root file system that holds only: the system folders (``/usr``, ``/etc``, ...) and the
  paths listed under ``"read_only"`` (the Python environment, ``lab_utils``, ``data``), all
  read-only (run as root they must be readable by every user: checked before starting); the
  paths under ``"overlay"`` (the download and training cache) read-only underneath with
  private, throw-away writes on top (run as root, its folders are made writable and its files
  readable for the sandbox's user, in that top layer only); and, all inside **one memory file
  system of ``"disk"`` bytes** that vanishes with the sandbox: a copy of the starting folder,
  a home folder, ``/tmp``, ``/dev/shm``, the overlays' writes, and the kernel's ``"runtime"``
  folder (with a copy of the connection file named on the command line). **Nothing the
  command writes reaches the host's disk**: no host folder is writable inside. The gradebook,
  the course folder (every lesson's solutions), the other submissions, the instructor's
  notebooks and home folder are simply not there;
* with the kernel's Unix sockets (``transport = "ipc"``, ``ip`` inside the runtime folder, as
  ``nbgrader_config.py`` sets) in that memory file system too: the outer process links each
  socket path the connection file names, in the host's runtime folder, to the same path under
  ``/proc/<kernel>/root``, and the grader connects through these links. Run as root, each
  socket is given to the sandbox's root as soon as it appears, in a sticky folder, so the
  kernel cannot swap it for a link to some other socket of the host;
* with no network at all (only a loopback interface that is down; the grading kernel talks
  to nbgrader through Unix sockets, ``KernelManager.transport = "ipc"``);
* as PID 1 of its own PID namespace: when it exits or is killed, the kernel kills every
  process it started, detached or not; and the sandbox dies with the process that started it;
* with limits: ``"processes"`` (default 256) processes and threads (``RLIMIT_NPROC``, set before
  the inner user namespace is made, so since Linux 5.14 it counts the sandbox's own tasks only;
  older kernels count every process of the sandbox's host uid), an address space of
  ``"memory"`` bytes per process (``RLIMIT_AS``), no core files, ``no_new_privs``, and the
  **whole sandbox's memory** capped at ``"memory"`` bytes too, by the first of these that works
  (``"memory_guard"``: ``"auto"``, the default, ``"cgroup"`` or ``"watchdog"``;
  :func:`memory_guard` says which one a sandbox gets here):

  1. a cgroup v2 with ``memory.max`` (and ``memory.swap.max`` 0), made next to the grader's own
     cgroup where that folder is delegated to (writable by) the grader, as in a systemd user
     session; v2 forbids a memory-limited child of a cgroup that holds processes, so it must be
     a sibling. The kernel's out-of-memory killer then stops the largest process inside;
  2. a cgroup v1 memory controller (``memory.limit_in_bytes``, ``memory.memsw.limit_in_bytes``)
     below the grader's own memory cgroup, where it is writable (typically run as root on a
     v1 or hybrid host: the machine the kit was built on). Same out-of-memory behaviour;
  3. otherwise a watchdog thread of the outer process: every 0.2 s it sums the proportional
     set size (PSS, so shared pages count once; resident size where PSS is unreadable) of every
     process in the sandbox and, above the limit, kills them all (the command's exit status is
     137 and stderr says why). It can be overrun for up to one interval and does not see files
     kept in the memory file system (those are capped by ``"disk"``).

  A cgroup made here is removed when the sandbox ends (or by the next sandbox, if the outer
  process was killed). The mounts are locked by a second, nested user namespace, so the
  command cannot remount them writable or look under them.

nbgrader starts it through a kernelspec (see :func:`write_kernelspec`) made by
``lab_utils.grading``. Three processes: the outer one (host side: id maps, cgroup, socket
links, watchdog), a middle one (in the new namespaces; waits for the kernel) and the kernel.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import json
import os
import platform
import re
import resource
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import NoReturn

KERNEL_NAME = "image-dl-sandbox"

SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt")
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
NOBODY = 65534
DEFAULT_PROCESSES = 256
DEFAULT_DISK = 512 * 2**20
WATCH_INTERVAL = 0.2
CGROUP_PREFIX = "lab-sandbox-"
PORT_KEYS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")

# The grader's environment variables a kernel gets (besides HOME, USER, LOGNAME, TMPDIR and
# the config's "environment"): the locale, the search path, and the kit's own settings.
PASSED_NAMES = frozenset(
    {
        "PATH",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TERM",
        "PYTHONPATH",
        "PYTHONHASHSEED",
        "PYTHONWARNINGS",
        "PYTHONIOENCODING",
        "PYTHONUNBUFFERED",
        "PYTHONDONTWRITEBYTECODE",
        "MPLBACKEND",
        "MALLOC_ARENA_MAX",
        "TF_CPP_MIN_LOG_LEVEL",
        "TF_CPP_MAX_VLOG_LEVEL",
        "TF_ENABLE_ONEDNN_OPTS",
        "TF_NUM_INTEROP_THREADS",
        "TF_NUM_INTRAOP_THREADS",
        "TF_DETERMINISTIC_OPS",
        "TF_USE_LEGACY_KERAS",
    }
)
PASSED_PREFIXES = ("LC_", "LAB_UTILS_", "KERAS_", "OMP_", "MKL_", "OPENBLAS_", "JUPYTER_", "JPY_")
# Never passed on, whatever the lists say (JUPYTER_TOKEN, a KERAS_..._API_KEY, ...).
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_?KEY|AUTH", re.I)

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
MNT_DETACH = 2
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
NAMESPACES = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "arm64": 41, "ppc64le": 203, "s390x": 217}

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_available: dict[str, str | None] = {}


class SandboxError(RuntimeError):
    """The sandbox could not be built (no user namespaces, a failed mount, ...)."""


@dataclasses.dataclass(frozen=True)
class _Ids:
    """Who the sandbox's user is on the host, and whether the grader is root."""

    uid: int
    gid: int
    as_root: bool

    @property
    def owner(self) -> tuple[int, int]:
        """The sandbox user's ids in the outer user namespace (which maps 0 to the grader)."""
        return (self.uid, self.gid) if self.as_root else (0, 0)


def available() -> str | None:
    """None if sandboxes work on this machine, else the reason (a sentence)."""
    if not sys.platform.startswith("linux"):
        return "the grading sandbox needs Linux namespaces"
    if "reason" not in _available:
        _available["reason"] = _probe()
    return _available["reason"]


def _probe() -> str | None:
    """Start a sandbox that runs ``python -c pass``: None if it worked, else why not."""
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    with tempfile.TemporaryDirectory(prefix="lu-probe-") as folder:
        config = Path(folder) / "sandbox.json"
        config.write_text(
            json.dumps({"scratch": f"{folder}/scratch", "read_only": sorted(prefixes)})
        )
        try:
            probe = subprocess.run(
                command(config, [sys.executable, "-c", "pass"]),
                capture_output=True,
                text=True,
                timeout=60,
                cwd=folder,
            )
        except (OSError, subprocess.SubprocessError) as error:
            return f"the grading sandbox did not start: {error}"
    if probe.returncode != 0:
        output = (probe.stderr or probe.stdout).strip()
        return f"the grading sandbox cannot start here: {output[-300:]}"
    return None


def command(config_path: Path | str, argv: list[str]) -> list[str]:
    """The command line that runs ``argv`` in a sandbox described by the JSON file."""
    return [sys.executable, "-m", "lab_utils.sandbox", str(config_path), "--", *argv]


def write_kernelspec(folder: Path | str, config_path: Path | str) -> Path:
    """A kernelspec ``<folder>/kernels/image-dl-sandbox`` (put ``folder`` on JUPYTER_PATH)."""
    spec_folder = Path(folder) / "kernels" / KERNEL_NAME
    spec_folder.mkdir(parents=True, exist_ok=True)
    argv = command(
        config_path, [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    )
    spec = {
        "argv": argv,
        "display_name": "Python 3 (grading sandbox)",
        "language": "python",
        "interrupt_mode": "signal",
        "metadata": {"debugger": False},
    }
    (spec_folder / "kernel.json").write_text(json.dumps(spec, indent=1))
    return spec_folder


def kernel_environment(config: dict, environ: dict | None = None) -> dict:
    """The environment the sandboxed command gets: the allowed names of ``environ`` (default
    ``os.environ``), the sandbox's own ``HOME``/``USER``/``TMPDIR``, the config's additions."""
    environ = os.environ if environ is None else environ
    passed = PASSED_NAMES | set(config.get("pass_environment", []))
    environment = {
        name: value
        for name, value in environ.items()
        if (name in passed or name.startswith(PASSED_PREFIXES)) and not SECRET_NAME.search(name)
    }
    environment.update(
        {
            "HOME": config.get("home", "/home/student"),
            "TMPDIR": "/tmp",
            "USER": "student",
            "LOGNAME": "student",
        }
    )
    environment.update(config.get("environment", {}))
    return environment


# --- the outer process (host side) -----------------------------------------------------


def _supervise(config: dict, argv: list[str]) -> int:
    """Run ``argv`` in a sandbox described by ``config``; its exit status (128 + N when
    killed by signal N; 137 when the memory watchdog stopped it)."""
    _die_with_parent()
    ids = _identities(config)
    _check_readable(config, ids)
    sockets = _kernel_sockets(config, argv)
    memory = int(config.get("memory") or 0)
    cgroup = _make_cgroup(memory, config.get("memory_guard", "auto")) if memory else None
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # interrupts are the kernel's
    up_read, up_write = os.pipe()
    down_read, down_write = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.close(up_read)
        os.close(down_write)
        _middle(config, argv, ids, sockets, (up_write, down_read))
    os.close(up_write)
    os.close(down_read)
    links, stop, over, reaped = [], threading.Event(), [], False
    try:
        if os.read(up_read, 1) != b"u":  # it failed (and said why)
            reaped = True
            return _wait(middle)
        _write_maps(middle, ids)
        if cgroup is not None and not _join_cgroup(cgroup, middle):
            cgroup = None
            if config.get("memory_guard") == "cgroup":
                raise SandboxError("could not move the sandbox into its memory cgroup")
        os.write(down_write, b"g")
        kernel = int(os.read(up_read, 32).split(b"\n")[0] or 0)
        links = _link_sockets(sockets, kernel)
        if memory and cgroup is None and kernel:
            watch = (kernel, memory, stop, over)
            threading.Thread(target=_watch, args=watch, daemon=True).start()
        signal.signal(signal.SIGTERM, _stop_on_signal)
        signal.signal(signal.SIGHUP, _stop_on_signal)
        status = _wait(middle)
        reaped = True
    finally:
        stop.set()
        if not reaped:
            _kill(middle)
            _wait(middle)
        _unlink(links)
        if cgroup is not None:
            _remove_cgroup(cgroup[1])
    if over:
        used, count = over[0]
        print(
            f"lab_utils.sandbox: {count} processes used {used / 2**20:.0f} MiB, over the "
            f"sandbox's {memory / 2**20:.0f} MiB: all were stopped",
            file=sys.stderr,
            flush=True,
        )
        return 137
    return status


def _stop_on_signal(number: int, frame: object) -> None:
    raise SystemExit(128 + number)


def _die_with_parent() -> None:
    """Be killed when the process that started the sandbox dies (jupyter_client starts kernels
    in a session of their own, so killing nbgrader would not reach them otherwise)."""
    parent = os.getppid()
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "parent-death signal")
    if os.getppid() != parent:  # the parent died before the signal was armed
        raise SandboxError("the process that started the sandbox is gone")


def _identities(config: dict) -> _Ids:
    if os.geteuid() != 0:
        return _Ids(os.getuid(), os.getgid(), as_root=False)
    uid = int(config.get("outside_uid", NOBODY))
    gid = int(config.get("outside_gid", NOBODY))
    if uid == 0 or gid == 0:
        raise SandboxError("outside_uid and outside_gid must not be 0 (root)")
    if not (_mapped("/proc/self/uid_map", uid) and _mapped("/proc/self/gid_map", gid)):
        raise SandboxError(
            f"running as root in a user namespace without uid {uid} and gid {gid} (such as "
            "'unshare --map-root-user'), the kernel could only run as root: as root, make "
            "the network namespace without a user namespace ('unshare --net'), or grade as "
            "an unprivileged user"
        )
    return _Ids(uid, gid, as_root=True)


def _mapped(path: str, number: int) -> bool:
    """Whether ``number`` exists in this user namespace (a line of /proc/self/uid_map)."""
    with open(path, encoding="ascii") as handle:
        for line in handle:
            first, _, count = (int(field) for field in line.split())
            if first <= number < first + count:
                return True
    return False


def _check_readable(config: dict, ids: _Ids) -> None:
    """Run as root, the sandbox's user is another id: the shared paths must be readable."""
    if not ids.as_root:
        return
    for path in config.get("read_only", []):
        try:
            found = os.stat(path)
        except OSError:
            continue
        need = 0o5 if stat.S_ISDIR(found.st_mode) else 0o4
        if found.st_uid == ids.uid:
            need <<= 6
        elif found.st_gid == ids.gid:
            need <<= 3
        if found.st_mode & need != need:
            raise SandboxError(
                f"{path} is not readable by uid {ids.uid}, the sandbox's user (run as root, "
                "the kernel never runs as root): make it readable by all (chmod o+rX)"
            )


def _write_maps(pid: int, ids: _Ids) -> None:
    """The outer user namespace: 0 is the grader; run as root, ``uid`` is itself too."""
    try:
        if ids.as_root:
            _write(f"/proc/{pid}/uid_map", f"0 0 1\n{ids.uid} {ids.uid} 1\n")
            _write(f"/proc/{pid}/gid_map", f"0 0 1\n{ids.gid} {ids.gid} 1\n")
        else:
            _write(f"/proc/{pid}/uid_map", f"0 {ids.uid} 1\n")
            _write(f"/proc/{pid}/setgroups", "deny")
            _write(f"/proc/{pid}/gid_map", f"0 {ids.gid} 1\n")
    except OSError as error:
        raise SandboxError(f"user id map: {error}") from None


def _wait(pid: int) -> int:
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except ChildProcessError:
            return 0
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


# --- the kernel's sockets --------------------------------------------------------------


def _runtime_folders(config: dict) -> list[str]:
    folders = list(config.get("writable", []))  # older configs: the same, private now
    if config.get("runtime"):
        folders.append(config["runtime"])
    return [os.path.abspath(folder) for folder in folders]


def _named_files(config: dict, argv: list[str]) -> list[str]:
    """Files named on the command line (``-f CONNECTION_FILE``) inside a runtime folder."""
    folders = _runtime_folders(config)
    found = []
    for argument in argv:
        path = os.path.abspath(argument.split("=", 1)[-1])
        if os.path.dirname(path) in folders and os.path.isfile(path):
            found.append(path)
    return found


def _kernel_sockets(config: dict, argv: list[str]) -> list[str]:
    """The Unix socket paths that the connection files on the command line name."""
    folders = _runtime_folders(config)
    sockets = []
    for path in _named_files(config, argv):
        try:
            info = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(info, dict) or info.get("transport") != "ipc":
            continue
        for key in PORT_KEYS:
            socket = f"{info.get('ip')}-{info.get(key)}"
            if os.path.dirname(socket) in folders:
                sockets.append(socket)
    return sockets


def _link_sockets(sockets: list[str], kernel: int) -> list[tuple[str, str]]:
    """Host path -> the same path in the kernel's root, for each socket: (link, target)."""
    links = []
    for socket in sockets:
        target = f"/proc/{kernel}/root{socket}"
        temporary = f"{socket}.{os.getpid()}.link"
        try:
            os.symlink(target, temporary)
            os.replace(temporary, socket)
        except OSError as error:
            raise SandboxError(f"link {socket}: {error}") from None
        links.append((socket, target))
    return links


def _unlink(links: list[tuple[str, str]]) -> None:
    for link, target in links:
        try:
            if os.readlink(link) == target:
                os.unlink(link)
        except OSError:
            pass


# --- the whole sandbox's memory --------------------------------------------------------


def memory_guard(choice: str = "auto") -> str:
    """How a sandbox started now by this user caps its whole memory: ``"cgroup v2"``,
    ``"cgroup v1"`` or ``"watchdog"`` (see the module's documentation)."""
    made = _make_cgroup(64 * 2**20, choice)
    if made is None:
        return "watchdog"
    _remove_cgroup(made[1])
    return f"cgroup {made[0]}"


def _cgroup_folders() -> list[tuple[str, Path]]:
    """("v2" or "v1", folder) where a memory-limited cgroup may be made, best first: v2 next
    to this process's cgroup, then v1 below its memory cgroup."""
    mounts = []
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        for line in handle:
            left, _, right = line.partition(" - ")
            fields, more = left.split(), right.split()
            if len(fields) >= 5 and len(more) >= 3 and more[0] in ("cgroup", "cgroup2"):
                mounts.append((more[0], fields[3], fields[4], more[2].split(",")))
    found = []
    with open("/proc/self/cgroup", encoding="utf-8") as handle:
        for line in handle:
            number, controllers, path = line.rstrip("\n").split(":", 2)
            for kind, mount_root, point, options in mounts:
                relative = os.path.relpath(path, mount_root)
                if relative.startswith(".."):
                    continue
                if number == "0" and not controllers and kind == "cgroup2":
                    if relative != ".":
                        found.append(("v2", Path(point, relative).parent))
                elif "memory" in controllers.split(",") and "memory" in options:
                    found.append(("v1", Path(point, relative)))
    return sorted(found, key=lambda item: item[0] != "v2")


def _make_cgroup(limit: int, choice: str = "auto") -> tuple[str, Path] | None:
    """A new cgroup limited to ``limit`` bytes: (version, folder), or None (the watchdog)."""
    if choice not in ("auto", "cgroup", "watchdog"):
        raise SandboxError(f"memory_guard must be auto, cgroup or watchdog, not {choice!r}")
    if choice == "watchdog":
        return None
    try:
        folders = _cgroup_folders()
    except OSError:
        folders = []
    for version, folder in folders:
        _remove_stale_cgroups(folder)
        path = folder / f"{CGROUP_PREFIX}{os.getpid()}"
        try:
            path.mkdir()
        except OSError:
            continue
        try:
            if version == "v2":
                (path / "memory.max").write_text(str(limit))
                _try_write(path / "memory.swap.max", "0")
            else:
                (path / "memory.limit_in_bytes").write_text(str(limit))
                _try_write(path / "memory.memsw.limit_in_bytes", str(limit))
            return version, path
        except OSError:
            _remove_cgroup(path)
    if choice == "cgroup":
        raise SandboxError("no writable memory cgroup here (memory_guard 'cgroup')")
    return None


def _join_cgroup(cgroup: tuple[str, Path], pid: int) -> bool:
    try:
        (cgroup[1] / "cgroup.procs").write_text(str(pid))
        return True
    except OSError:
        _remove_cgroup(cgroup[1])
        return False


def _try_write(path: Path, text: str) -> None:
    try:
        path.write_text(text)
    except OSError:
        pass


def _remove_cgroup(path: Path) -> None:
    """Remove an emptied cgroup (its last processes may take a moment to leave)."""
    for _ in range(100):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)


def _remove_stale_cgroups(folder: Path) -> None:
    """Cgroups of sandboxes whose outer process was killed (its number is in the name)."""
    try:
        entries = list(folder.glob(f"{CGROUP_PREFIX}*"))
    except OSError:
        return
    for entry in entries:
        try:
            os.kill(int(entry.name[len(CGROUP_PREFIX) :]), 0)
        except ProcessLookupError:
            try:
                entry.rmdir()
            except OSError:
                pass
        except (ValueError, OSError):
            pass


def _watch(kernel: int, limit: int, stop: threading.Event, over: list) -> None:
    """The watchdog: kill every process in the sandbox when together they use over ``limit``."""
    while not stop.wait(WATCH_INTERVAL):
        pids = _processes_under(kernel)
        used = sum(_memory_of(pid) for pid in pids)
        if used > limit:
            over.append((used, len(pids)))
            for pid in pids:  # the first is PID 1 inside: its death ends all the others
                _kill(pid)
            return


def _processes_under(first: int) -> list[int]:
    """``first`` and all its descendants (orphans inside the sandbox go to its PID 1)."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                parent = int(handle.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(name))
    found, todo = [], [first]
    while todo:
        pid = todo.pop(0)
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _memory_of(pid: int) -> int:
    """Bytes of memory a process uses: its PSS, else its resident size, else 0."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


# --- the middle process (in the new namespaces, outside the new root) ------------------


def _middle(
    config: dict, argv: list[str], ids: _Ids, sockets: list[str], pipes: tuple[int, int]
) -> NoReturn:
    """Make the namespaces, wait for the id maps, start the kernel (PID 1), wait for it."""
    up, down = pipes
    code = 70
    try:
        _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "parent-death signal")
        _check(_libc.unshare(NAMESPACES), "new namespaces (are user namespaces allowed?)")
        os.write(up, b"u")
        if os.read(down, 1) == b"g":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            # Open for as long as this process lives: the kernel checks it once its own
            # parent-death signal is armed (a kernel forked just before this process was
            # killed outlived the batch; seen under a load of 6 on 2 cores).
            alive, held = os.pipe()
            kernel = os.fork()
            if kernel == 0:
                os.close(up)
                os.close(down)
                os.close(held)
                _kernel(config, argv, ids, alive)
            os.close(alive)
            os.write(up, f"{kernel}\n".encode())
            code = _wait_and_hold(kernel, sockets)
    except BaseException as error:  # noqa: BLE001 - say why, then leave
        print(f"lab_utils.sandbox: {error}", file=sys.stderr, flush=True)
    os._exit(code)


def _wait_and_hold(kernel: int, sockets: list[str]) -> int:
    """Wait for the kernel; meanwhile give each socket it makes to the sandbox's root, so
    that the kernel can no longer replace it (its folder is sticky)."""
    pending, deadline = list(sockets), time.monotonic() + 300
    while pending and time.monotonic() < deadline:
        done, status = os.waitpid(kernel, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            return code if code >= 0 else 128 - code
        for path in list(pending):
            try:
                if stat.S_ISSOCK(os.lstat(path).st_mode):
                    os.lchown(path, 0, 0)
                    pending.remove(path)
            except OSError:
                pass
        time.sleep(0.005)
    return _wait(kernel)


# --- the kernel process: inside the namespaces -----------------------------------------


def _kernel(config: dict, argv: list[str], ids: _Ids, alive: int) -> NoReturn:
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "parent-death signal")
        # ``alive`` reads end-of-file once the middle process is gone (its end was closed):
        # then it died before the signal above was armed, and nothing would stop this one.
        if select.select([alive], [], [], 0)[0]:
            raise SandboxError("the process that started the sandbox is gone")
        os.close(alive)
        _enter(config, argv, ids)
    except BaseException as error:  # noqa: BLE001 - say why, then leave
        print(f"lab_utils.sandbox: {error}", file=sys.stderr, flush=True)
    os._exit(70)


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise SandboxError(f"{what}: {os.strerror(error)}")


def _mount(source, target, fstype=None, flags=0, data=None) -> None:
    _check(
        _libc.mount(
            None if source is None else os.fsencode(source),
            os.fsencode(target),
            None if fstype is None else fstype.encode(),
            ctypes.c_ulong(flags),
            None if data is None else data.encode(),
        ),
        f"mount {source} -> {target}",
    )


def _bind(source: str, target: str, writable: bool = False, device: bool = False) -> None:
    """Bind ``source`` at ``target`` (created as a folder or file), read-only unless asked."""
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        Path(target).touch()
    _mount(source, target, flags=MS_BIND)
    if device:
        return
    flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | (0 if writable else MS_RDONLY)
    _mount(None, target, flags=flags | _kept_flags(source))


def _kept_flags(path: str) -> int:
    """Flags of the mount holding ``path`` that a remount inside a user namespace must keep."""
    found = os.statvfs(path).f_flag
    flags = MS_NOEXEC if found & os.ST_NOEXEC else 0
    flags |= MS_NOATIME if found & os.ST_NOATIME else 0
    flags |= MS_NODIRATIME if found & os.ST_NODIRATIME else 0
    flags |= MS_RELATIME if found & getattr(os, "ST_RELATIME", 4096) else 0
    return flags


def _place(root: str, path: str, how: str, scratch: str, owner: tuple[int, int]) -> None:
    """Make ``path`` of the real file system appear inside ``root``, read-only or overlaid."""
    if not os.path.lexists(path):
        return
    target = root + path
    if os.path.islink(path):  # /bin -> usr/bin on merged-/usr systems: keep the link
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.lexists(target):
            os.symlink(os.readlink(path), target)
        path = os.path.realpath(path)
        target = root + path
    if os.path.exists(target) and os.path.ismount(target):
        return
    if how == "overlay" and os.path.isdir(path):
        upper = os.path.join(scratch, "overlay", str(abs(hash(path))))
        os.makedirs(upper + "/work", exist_ok=True)
        _mirror_folders(path, upper + "/upper", owner)
        os.makedirs(target, exist_ok=True)
        try:
            _mount(
                "overlay",
                target,
                "overlay",
                MS_NOSUID | MS_NODEV,
                f"lowerdir={path},upperdir={upper}/upper,workdir={upper}/work",
            )
            if owner != (0, 0):
                _make_readable(target)
            return
        except SandboxError:
            pass  # no overlayfs in user namespaces here: read-only instead
    _bind(path, target)


def _mirror_folders(lower: str, upper: str, owner: tuple[int, int]) -> None:
    """The overlay's write layer: its folders, owned by the sandbox's user, so that it can
    add files anywhere in the cache (a merged folder takes the upper one's owner)."""
    os.makedirs(upper, exist_ok=True)
    os.chown(upper, *owner)
    if owner == (0, 0):
        return  # the sandbox's user owns the cache already
    for folder, names, _ in os.walk(lower):
        for name in names:
            made = os.path.join(upper, os.path.relpath(os.path.join(folder, name), lower))
            os.makedirs(made, exist_ok=True)
            os.chmod(made, stat.S_IMODE(os.stat(os.path.join(folder, name)).st_mode) | 0o700)
            os.chown(made, *owner)


def _make_readable(top: str) -> None:
    """Let the sandbox's user read every file of an overlaid folder (a download the kit keeps
    with mode 600, say); the changed copies land in the overlay's write layer, not on disk."""
    for folder, names, files in os.walk(top):
        for name in names + files:
            path = os.path.join(folder, name)
            mode = os.lstat(path).st_mode
            need = 0o005 if stat.S_ISDIR(mode) else 0o004
            if not stat.S_ISLNK(mode) and mode & need != need:
                os.chmod(path, stat.S_IMODE(mode) | need)


def _write(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def _enter(config: dict, argv: list[str], ids: _Ids) -> None:
    """Inside the new namespaces: build the file system, swap roots, drop rights, exec."""
    os.umask(0o022)
    start = os.getcwd()
    _mount(None, "/", flags=MS_REC | MS_PRIVATE)
    root = _build_root(config, start, ids.owner)
    _add_runtime(root, config, argv, ids.owner)
    _seal_kit_folders_in_scratch(root, config, start)
    _pivot_into(root, start)
    _lock_and_exec(config, argv, ids)


def _build_root(config: dict, start: str, owner: tuple[int, int]) -> str:
    """A memory file system holding the allowed paths, the devices and writable folders."""
    scratch = config["scratch"]
    os.makedirs(scratch, exist_ok=True)
    root = os.path.join(scratch, "root")
    os.makedirs(root, exist_ok=True)
    _mount(
        "tmpfs",
        root,
        "tmpfs",
        MS_NOSUID | MS_NODEV,
        f"size={int(config.get('disk') or DEFAULT_DISK)},mode=755",
    )
    # The overlays' upper folders live in the memory file system too.
    overlay_scratch = os.path.join(root, ".overlay")
    for path in SYSTEM_PATHS:
        _place(root, path, "read_only", overlay_scratch, owner)
    try:  # CPU counts and the like; some machines refuse it (not needed to run Python)
        _place(root, "/sys", "read_only", overlay_scratch, owner)
    except SandboxError:
        pass
    for how in ("read_only", "overlay"):
        for path in config.get(how, []):
            _place(root, os.path.abspath(path), how, overlay_scratch, owner)
    _copy_start_folder(root, start, scratch, owner)
    _add_devices_and_writable_folders(root, start, config.get("home", "/home/student"), owner)
    return root


def _copy_start_folder(root: str, start: str, scratch: str, owner: tuple[int, int]) -> None:
    """The starting folder: a private copy (what the kernel writes there is thrown away)."""
    if os.path.exists(root + start):
        return
    if Path(start) == Path(scratch) or Path(start) in Path(scratch).parents:
        os.makedirs(root + start)  # never copy the sandbox into itself
    else:
        shutil.copytree(
            start,
            root + start,
            symlinks=True,
            ignore=shutil.ignore_patterns("*.ipynb_checkpoints"),
        )
    _chown_tree(root + start, owner)


def _chown_tree(top: str, owner: tuple[int, int]) -> None:
    os.chown(top, *owner)
    for folder, names, files in os.walk(top):
        for name in names + files:
            os.lchown(os.path.join(folder, name), *owner)


def _add_runtime(root: str, config: dict, argv: list[str], owner: tuple[int, int]) -> None:
    """The runtime folders, private and sticky (the kernel makes its sockets there), with a
    copy of the connection file named on the command line, readable by the sandbox's user."""
    for folder in _runtime_folders(config):
        os.makedirs(root + folder, exist_ok=True)
        os.chmod(root + folder, 0o1777)
        _mount(root + folder, root + folder, flags=MS_BIND | MS_REC)
    for path in _named_files(config, argv):
        shutil.copyfile(path, root + path)
        os.chmod(root + path, 0o600)
        os.chown(root + path, *owner)


def _add_devices_and_writable_folders(
    root: str, start: str, home: str, owner: tuple[int, int]
) -> None:
    os.makedirs(root + "/dev", exist_ok=True)
    for device in DEVICES:
        if os.path.exists(f"/dev/{device}"):
            try:
                _bind(f"/dev/{device}", f"{root}/dev/{device}", device=True)
            except SandboxError:
                pass
    for folder in ("/dev/shm", "/tmp"):
        os.makedirs(root + folder, exist_ok=True)
        os.chmod(root + folder, 0o1777)
    os.makedirs(root + home, exist_ok=True)
    os.chmod(root + home, 0o755)
    os.chown(root + home, *owner)
    # Writable places: separate mounts, so that the rest of the skeleton can be read-only.
    for folder in (start, "/tmp", "/dev/shm", home):
        if not os.path.ismount(root + folder):
            _mount(root + folder, root + folder, flags=MS_BIND | MS_REC)
    os.makedirs(root + "/proc", exist_ok=True)
    try:
        _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except SandboxError:
        pass  # some containers forbid a new /proc; Python runs without one


def _seal_kit_folders_in_scratch(root: str, config: dict, start: str) -> None:
    """Keep the kit read-only where it lives under a writable scratch folder.

    A clone under ``/tmp`` places its paths inside the sandbox's private, writable ``/tmp``:
    without this, the folders between ``/tmp`` and those paths (``/tmp/clone`` itself) would
    take new files, so the kernel would see another tree than a clone under ``/home`` gives.
    The first folder below the scratch folder that leads to a kit path is bound read-only
    onto itself, recursively: the kit's own mounts, the runtime folders and the starting
    folder inside it keep their own (read-only or private writable) mounts.
    """
    scratch = {"/tmp", "/dev/shm", config.get("home", "/home/student")}
    tops = set()
    for how in ("read_only", "overlay"):
        for path in config.get(how, []):
            path = Path(os.path.abspath(path))
            for folder in scratch:
                if Path(folder) in path.parents:
                    tops.add(os.path.join(folder, path.relative_to(folder).parts[0]))
    for top in sorted(tops):
        target = root + top
        if not os.path.isdir(target) or os.path.ismount(target) or top == start:
            continue  # absent (not placed), already its own mount, or the private start
        _mount(target, target, flags=MS_BIND | MS_REC)
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV
        _mount(None, target, flags=flags | _kept_flags(target))


def _pivot_into(root: str, start: str) -> None:
    """Swap the roots and drop the old one entirely; the new root is read-only."""
    os.chdir(root)
    number = SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise SandboxError(f"pivot_root: unknown machine {platform.machine()}")
    _check(_libc.syscall(number, b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "umount the old root")
    _mount(None, "/", flags=MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir(start)


def _lock_and_exec(config: dict, argv: list[str], ids: _Ids) -> None:
    """Become the sandbox's user, set the limits, lock the mounts, exec the command."""
    if ids.as_root:  # host root -> outside_uid: no capability, no supplementary group left
        os.setgroups([])
        os.setresgid(ids.gid, ids.gid, ids.gid)
        os.setresuid(ids.uid, ids.uid, ids.uid)
        _check(_libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "dumpable")  # for /proc/self/*_map
    uid, gid = os.getuid(), os.getgid()
    processes = config.get("processes", DEFAULT_PROCESSES)
    if processes:  # before the nested namespace: it keeps this as its own ceiling
        resource.setrlimit(resource.RLIMIT_NPROC, (int(processes), int(processes)))
    memory = config.get("memory")
    if memory:
        resource.setrlimit(resource.RLIMIT_AS, (int(memory), int(memory)))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Lock the mounts: a nested user namespace owns no mount namespace, so nothing can be
    # remounted writable or unmounted to look underneath.
    _check(_libc.unshare(CLONE_NEWUSER), "nested user namespace")
    inside = int(config.get("uid", 1000))
    try:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{inside} {uid} 1")
        _write("/proc/self/gid_map", f"{inside} {gid} 1")
    except OSError as error:
        raise SandboxError(f"user id map: {error}") from None
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    # Changing ids cleared the parent-death signal: arm it again.
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "parent-death signal")
    os.execvpe(argv[0], argv, kernel_environment(config))


def main(argv: list[str] | None = None) -> int:
    """``python -m lab_utils.sandbox CONFIG.json -- COMMAND...``; the command's exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m lab_utils.sandbox CONFIG.json -- COMMAND...", file=sys.stderr)
        return 2
    try:
        config = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
        return _supervise(config, argv[2:])
    except (SandboxError, OSError, ValueError) as error:
        print(f"lab_utils.sandbox: {error}", file=sys.stderr)
        return 70


if __name__ == "__main__":
    sys.exit(main())
