"""Run one command (a grading kernel) in a throw-away Linux sandbox (instructors only).

``python -m lab_utils.sandbox CONFIG.json -- COMMAND...`` runs COMMAND

* in new user, mount, PID, network, IPC and UTS namespaces (``unshare``; no root needed where
  unprivileged user namespaces are allowed);
* on a new root file system that holds only: the system folders (``/usr``, ``/etc``, ...) and the
  paths listed under ``"read_only"`` (the Python environment, ``lab_utils``, ``data``), all
  read-only; the paths under ``"overlay"`` (the download and training cache) read-only
  underneath with private, throw-away writes on top; the paths under ``"writable"`` (the
  kernel's connection folder); and a copy of the starting folder, a home folder, ``/tmp`` and
  ``/dev/shm``, all inside one size-capped memory file system that vanishes with the sandbox.
  The gradebook, the course folder (every lesson's solutions), the other submissions, the
  instructor's notebooks and home folder are simply not there;
* with no network at all (only a loopback interface that is down; the grading kernel talks
  to nbgrader through Unix sockets, ``KernelManager.transport = "ipc"``);
* as PID 1 of its own PID namespace: when it exits or is killed, the kernel kills every
  process it started, detached or not;
* with an address-space limit (``"memory"`` bytes, ``RLIMIT_AS``: shared memory maps count),
  no core files, and ``no_new_privs``; the mounts are locked by a second, nested user
  namespace, so the command cannot remount them writable or look under them.

nbgrader starts it through a kernelspec (see :func:`write_kernelspec`) made by
``lab_utils.grading``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
from pathlib import Path

KERNEL_NAME = "image-dl-sandbox"

SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt")
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
MNT_DETACH = 2
CLONE_NEWUSER = 0x10000000
PR_SET_NO_NEW_PRIVS = 38
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "arm64": 41, "ppc64le": 203, "s390x": 217}

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


class SandboxError(RuntimeError):
    """The sandbox could not be built (no user namespaces, a failed mount, ...)."""


def available() -> str | None:
    """None if sandboxes work on this machine, else the reason (a sentence)."""
    if not sys.platform.startswith("linux"):
        return "the grading sandbox needs Linux namespaces"
    if shutil.which("unshare") is None:
        return "the 'unshare' command (util-linux) is missing"
    try:
        probe = subprocess.run(
            [
                "unshare",
                "--user",
                "--map-root-user",
                "--mount",
                "--pid",
                "--net",
                "--fork",
                "--kill-child",
                "sh",
                "-c",
                "mount -t tmpfs tmpfs /mnt 2>/dev/null || mount -t tmpfs tmpfs /tmp",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"'unshare' failed: {error}"
    if probe.returncode != 0:
        return (
            "unprivileged user namespaces are switched off here ('unshare --user' said: "
            f"{(probe.stderr or probe.stdout).strip()[:200]})"
        )
    return None


def command(config_path: Path | str, argv: list[str]) -> list[str]:
    """The command line that runs ``argv`` in a sandbox described by the JSON file."""
    return [
        sys.executable,
        "-m",
        "lab_utils.sandbox",
        "--outer",
        "--",
        "unshare",
        "--user",
        "--map-root-user",
        "--mount",
        "--pid",
        "--net",
        "--ipc",
        "--uts",
        "--fork",
        "--kill-child",
        sys.executable,
        "-m",
        "lab_utils.sandbox",
        str(config_path),
        "--",
        *argv,
    ]


PR_SET_PDEATHSIG = 1


def _outer(argv: list[str]) -> int:
    """Exec ``argv`` (the ``unshare`` line) so that it is killed when its parent dies.

    jupyter_client starts kernels in a session of their own, so killing nbgrader (a notebook
    over its time limit) would not reach them; with this, the sandbox's PID namespace, and
    every process in it, dies with nbgrader.
    """
    parent = os.getppid()
    _check(_libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0), "parent-death signal")
    if os.getppid() != parent:  # the parent died before the signal was armed
        return 70
    os.execvp(argv[0], argv)
    return 70


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


# --- inside the namespaces -------------------------------------------------------------


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


def _place(root: str, path: str, how: str, scratch: str) -> None:
    """Make ``path`` of the real file system appear inside ``root``."""
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
        os.makedirs(upper + "/upper", exist_ok=True)
        os.makedirs(upper + "/work", exist_ok=True)
        os.makedirs(target, exist_ok=True)
        try:
            _mount(
                "overlay",
                target,
                "overlay",
                MS_NOSUID | MS_NODEV,
                f"lowerdir={path},upperdir={upper}/upper,workdir={upper}/work",
            )
            return
        except SandboxError:
            how = "read_only"  # no overlayfs in user namespaces here: read-only instead
    _bind(path, target, writable=(how == "writable"))


def _write(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def _enter(config: dict, argv: list[str]) -> None:
    """Inside the new namespaces: build the file system, swap roots, drop rights, exec."""
    start = os.getcwd()
    _mount(None, "/", flags=MS_REC | MS_PRIVATE)
    root = _build_root(config, start)
    _pivot_into(root, start)
    _lock_and_exec(config, argv)


def _build_root(config: dict, start: str) -> str:
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
        f"size={int(config.get('disk', 512 * 2**20))},mode=755",
    )
    # The overlays' upper folders live in the memory file system too.
    overlay_scratch = os.path.join(root, ".overlay")
    for path in SYSTEM_PATHS:
        _place(root, path, "read_only", overlay_scratch)
    try:  # CPU counts and the like; some machines refuse it (not needed to run Python)
        _place(root, "/sys", "read_only", overlay_scratch)
    except SandboxError:
        pass
    for how in ("read_only", "overlay", "writable"):
        for path in config.get(how, []):
            _place(root, os.path.abspath(path), how, overlay_scratch)
    _copy_start_folder(root, start, scratch)
    _add_devices_and_writable_folders(root, start, config.get("home", "/home/student"))
    return root


def _copy_start_folder(root: str, start: str, scratch: str) -> None:
    """The starting folder: a private copy (what the kernel writes there is thrown away)."""
    if os.path.exists(root + start):
        return
    if start == scratch or start in Path(scratch).parents:
        os.makedirs(root + start)  # never copy the sandbox into itself
    else:
        shutil.copytree(
            start,
            root + start,
            symlinks=True,
            ignore=shutil.ignore_patterns("*.ipynb_checkpoints"),
        )


def _add_devices_and_writable_folders(root: str, start: str, home: str) -> None:
    os.makedirs(root + "/dev", exist_ok=True)
    for device in DEVICES:
        if os.path.exists(f"/dev/{device}"):
            try:
                _bind(f"/dev/{device}", f"{root}/dev/{device}", device=True)
            except SandboxError:
                pass
    for folder in ("/dev/shm", "/tmp", home):
        os.makedirs(root + folder, exist_ok=True)
        os.chmod(root + folder, 0o1777)
    # Writable places: separate mounts, so that the rest of the skeleton can be read-only.
    for folder in (start, "/tmp", "/dev/shm", home):
        if not os.path.ismount(root + folder):
            _mount(root + folder, root + folder, flags=MS_BIND | MS_REC)
    os.makedirs(root + "/proc", exist_ok=True)
    try:
        _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except SandboxError:
        pass  # some containers forbid a new /proc; Python runs without one


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


def _lock_and_exec(config: dict, argv: list[str]) -> None:
    # Lock the mounts: a nested user namespace owns no mount namespace, so nothing can be
    # remounted writable or unmounted to look underneath.
    uid, gid = os.getuid(), os.getgid()
    _check(_libc.unshare(CLONE_NEWUSER), "nested user namespace")
    inside = int(config.get("uid", 1000))
    try:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{inside} {uid} 1")
        _write("/proc/self/gid_map", f"{inside} {gid} 1")
    except OSError as error:
        raise SandboxError(f"user id map: {error}") from None
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    memory = config.get("memory")
    if memory:
        resource.setrlimit(resource.RLIMIT_AS, (int(memory), int(memory)))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    environment = dict(os.environ)
    environment.update(
        {
            "HOME": config.get("home", "/home/student"),
            "TMPDIR": "/tmp",
            "USER": "student",
            "LOGNAME": "student",
        }
    )
    environment.update(config.get("environment", {}))
    os.execvpe(argv[0], argv, environment)


def main(argv: list[str] | None = None) -> int:
    """``python -m lab_utils.sandbox CONFIG.json -- COMMAND...``; the exit status on failure."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["--outer", "--"] and len(argv) > 2:
        return _outer(argv[2:])
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m lab_utils.sandbox CONFIG.json -- COMMAND...", file=sys.stderr)
        return 2
    config = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    try:
        _enter(config, argv[2:])
    except (SandboxError, OSError) as error:
        print(f"lab_utils.sandbox: {error}", file=sys.stderr)
        return 70
    return 0  # not reached: _enter replaces this process


if __name__ == "__main__":
    sys.exit(main())
