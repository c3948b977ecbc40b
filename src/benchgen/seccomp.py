"""The sandbox's kernel-level policy: a seccomp filter the script cannot remove, supervised by the parent.

:mod:`benchgen.sandbox_runner` compiles the filter with libseccomp and installs it on every
thread of its process after its own imports and before it imports the script, so no
untrusted code has run yet. A seccomp filter cannot be removed or loosened afterwards, and
it sees every system call, however it is made: Python, ctypes, cffi, a copied extension
module or hand-written machine code.

Every forbidden call is answered with ``SECCOMP_RET_USER_NOTIF``: the kernel parks the
calling thread and queues a notification on a listener fd. The runner hands that fd to the
parent and closes its own copy before the script runs, so only the parent can answer. The
parent names the call in a ``sandbox_violation`` verdict and kills the sandbox; the call
never runs. Thread creation (``clone`` with ``CLONE_THREAD``) is notified too, so the
parent can count threads and refuse one over the cap; allowed threads continue
(``SECCOMP_USER_NOTIF_FLAG_CONTINUE``, safe here because clone's flags are a register,
not memory the script could change after the check). ``clone3`` gets ``ENOSYS`` because its
flags live in memory a filter cannot read; glibc then falls back to ``clone``. A system
call of another architecture (e.g. ``int 0x80``) kills the process with ``SIGSYS``.

This module must stay cheap to import: the runner imports it before the script.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import socket
import struct
from typing import Any, NamedTuple

from benchgen.errors import InfrastructureError

# A forbidden call -> why, as the verdict states it.
FORBIDDEN: dict[str, str] = {
    **dict.fromkeys(("fork", "vfork"), "process creation"),
    **dict.fromkeys(("execve", "execveat"), "running a program"),
    **dict.fromkeys(
        (
            "ptrace",
            "process_vm_readv",
            "process_vm_writev",
            "kcmp",
            "pidfd_open",
            "pidfd_getfd",
            "pidfd_send_signal",
            "process_madvise",
            "process_mrelease",
            "migrate_pages",
            "move_pages",
            "tkill",
        ),
        "reaching into another process",
    ),
    **dict.fromkeys(
        (
            "unshare",
            "setns",
            "mount",
            "umount2",
            "pivot_root",
            "chroot",
            "open_tree",
            "move_mount",
            "fsopen",
            "fsconfig",
            "fsmount",
            "fspick",
            "mount_setattr",
        ),
        "namespaces and mounts",
    ),
    **dict.fromkeys(("mknod", "mknodat"), "creating device nodes or FIFOs"),
    **dict.fromkeys(("open_by_handle_at", "name_to_handle_at"), "opening files by handle"),
    **dict.fromkeys(
        (
            "bpf",
            "perf_event_open",
            "userfaultfd",
            "io_uring_setup",
            "io_uring_enter",
            "io_uring_register",
            "keyctl",
            "add_key",
            "request_key",
            "seccomp",
            "kexec_load",
            "kexec_file_load",
            "init_module",
            "finit_module",
            "delete_module",
            "reboot",
            "swapon",
            "swapoff",
            "syslog",
            "acct",
            "quotactl",
            "quotactl_fd",
            "iopl",
            "ioperm",
            "modify_ldt",
            "settimeofday",
            "clock_settime",
            "clock_adjtime",
            "adjtimex",
            "sethostname",
            "setdomainname",
            "vhangup",
            "lookup_dcookie",
            "uselib",
            "nfsservctl",
            "_sysctl",
            "ustat",
            "sysfs",
        ),
        "kernel interfaces a scenario never needs",
    ),
}
# Calls forbidden only with some arguments (decided in the filter, from registers).
SIGNAL_CALLS = ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")
"""Allowed only towards the sandboxed process itself (first argument == its pid)."""
SOCKET_CALLS = ("socket", "socketpair")
"""Allowed only for AF_UNIX; the network is forbidden."""

CLONE_THREAD = 0x00010000
CLONE_NAMESPACES = 0x7E020000
"""CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWTIME bits."""
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
PR_SET_MM = 35
TIOCSTI = 0x5412
PERSONALITY_QUERY = 0xFFFFFFFF
SECCOMP_SET_MODE_FILTER = 1
FILTER_FLAG_TSYNC = 1
FILTER_FLAG_NEW_LISTENER = 1 << 3
FILTER_FLAG_TSYNC_ESRCH = 1 << 4
USER_NOTIF_FLAG_CONTINUE = 1
# _IOWR('!', 0, struct seccomp_notif) and _IOWR('!', 1, struct seccomp_notif_resp).
IOCTL_NOTIF_RECV = 0xC0502100
IOCTL_NOTIF_SEND = 0xC0182101
_NOTIF = struct.Struct("=QIIiIQ6Q")  # id, pid, flags, nr, arch, instruction_pointer, args[6]
_RESPONSE = struct.Struct("=QqiI")  # id, val, error, flags
MIN_API_LEVEL = 6
"""libseccomp API level 6: the kernel has user notification and TSYNC_ESRCH (Linux >= 5.7)."""


class SeccompUnavailable(InfrastructureError, RuntimeError):
    """The filter cannot be compiled or installed here (no libseccomp, or an old kernel)."""


class Notification(NamedTuple):
    """A system call the kernel parked for the parent's decision."""

    id: int
    pid: int
    """The calling thread, in the parent's pid namespace."""
    syscall: int
    args: tuple[int, ...]


def _pyseccomp() -> Any:
    try:
        import pyseccomp  # type: ignore[import-untyped]
    except (ImportError, RuntimeError, OSError) as exc:  # RuntimeError: libseccomp.so.2 is missing
        raise SeccompUnavailable(
            f"libseccomp is not usable ({exc}); install libseccomp2 and pyseccomp"
        ) from None
    return pyseccomp


def preload() -> None:
    """Load libseccomp now (a warm template does, so its children compile their filter in a millisecond)."""
    with contextlib.suppress(SeccompUnavailable):
        _pyseccomp()


def availability() -> tuple[bool, str]:
    """Whether the filter can work here, and why not; asks libseccomp what the kernel supports."""
    try:
        api = int(_pyseccomp().get_api())
    except (SeccompUnavailable, OSError, NotImplementedError) as exc:
        return False, str(exc)
    if api < MIN_API_LEVEL:
        return False, f"the kernel offers libseccomp API level {api}; user notification needs {MIN_API_LEVEL}"
    return True, f"usable (libseccomp API level {api})"


def compile_filter(own_pid: int, supervised: bool = True) -> bytes:
    """The BPF program of the policy for the process ``own_pid`` (its pid as it sees itself).

    ``supervised``: forbidden calls and every ``clone`` wait for the parent (user
    notification). Otherwise, for trusted code that only needs containing (the geometry
    loader reading hostile BREPs), a forbidden call kills the process and threads need no
    approval.
    """
    lib = _pyseccomp()
    notify = lib.NOTIFY if supervised else lib.KILL_PROCESS
    rules = lib.SyscallFilter(lib.ALLOW)
    rules.set_attr(lib.Attr.ACT_BADARCH, lib.KILL_PROCESS)
    for name in FORBIDDEN:
        if lib.resolve_syscall(lib.Arch.NATIVE, name) >= 0:  # skip calls this architecture lacks
            rules.add_rule(notify, name)
    if supervised:
        rules.add_rule(notify, "clone")
    else:
        rules.add_rule(notify, "clone", lib.Arg(0, lib.MASKED_EQ, CLONE_THREAD, 0))
        for bit in (1 << b for b in range(32) if CLONE_NAMESPACES & (1 << b)):
            rules.add_rule(notify, "clone", lib.Arg(0, lib.MASKED_EQ, bit, bit))
    rules.add_rule(lib.ERRNO(errno.ENOSYS), "clone3")
    for name in SIGNAL_CALLS:
        rules.add_rule(notify, name, lib.Arg(0, lib.NE, own_pid))
    for name in SOCKET_CALLS:
        rules.add_rule(notify, name, lib.Arg(0, lib.NE, socket.AF_UNIX))
    rules.add_rule(notify, "personality", lib.Arg(0, lib.NE, PERSONALITY_QUERY))
    for option in (PR_SET_SECCOMP, PR_SET_MM):
        rules.add_rule(notify, "prctl", lib.Arg(0, lib.EQ, option))
    rules.add_rule(notify, "ioctl", lib.Arg(1, lib.MASKED_EQ, 0xFFFFFFFF, TIOCSTI))
    memfd = os.memfd_create("benchgen-seccomp", os.MFD_CLOEXEC)
    with os.fdopen(memfd, "w+b") as handle:
        rules.export_bpf(handle)
        handle.seek(0)
        return handle.read()


def install(program: bytes, listen: bool = True) -> int:
    """Load ``program`` on every thread of this process; returns the notification listener fd (-1 without ``listen``).

    Sets ``no_new_privs`` first (the kernel requires it without CAP_SYS_ADMIN). Raises
    :class:`SeccompUnavailable` when the kernel refuses.
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise SeccompUnavailable(f"prctl(PR_SET_NO_NEW_PRIVS) failed: {os.strerror(ctypes.get_errno())}")

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    code = ctypes.create_string_buffer(program, len(program))
    fprog = SockFprog(len(program) // 8, ctypes.addressof(code))
    number = int(_pyseccomp().resolve_syscall(0, "seccomp"))
    flags = FILTER_FLAG_TSYNC | FILTER_FLAG_TSYNC_ESRCH | (FILTER_FLAG_NEW_LISTENER if listen else 0)
    libc.syscall.restype = ctypes.c_long
    listener = int(
        libc.syscall(
            ctypes.c_long(number),
            ctypes.c_long(SECCOMP_SET_MODE_FILTER),
            ctypes.c_long(flags),
            ctypes.byref(fprog),
        )
    )
    if listener < 0:
        raise SeccompUnavailable(f"seccomp(SET_MODE_FILTER) failed: {os.strerror(ctypes.get_errno())}")
    return listener if listen else -1


# --- the parent's side --------------------------------------------------------------------------


def receive(listener: int) -> Notification | None:
    """The next parked call, or None when its thread died before the parent looked."""
    buffer = bytearray(_NOTIF.size)
    try:
        fcntl.ioctl(listener, IOCTL_NOTIF_RECV, buffer, True)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.EINTR):
            return None
        raise
    ident, pid, _flags, nr, _arch, _ip, *args = _NOTIF.unpack(buffer)
    return Notification(ident, pid, nr, tuple(args))


def let_continue(listener: int, notification: Notification) -> None:
    """Let a parked call run as if there were no filter."""
    response = bytearray(_RESPONSE.pack(notification.id, 0, 0, USER_NOTIF_FLAG_CONTINUE))
    with contextlib.suppress(ProcessLookupError, FileNotFoundError):
        fcntl.ioctl(listener, IOCTL_NOTIF_SEND, response, True)


def refuse(listener: int, notification: Notification, error: int = errno.EPERM) -> None:
    """Make a parked call fail with ``error`` without running it."""
    response = bytearray(_RESPONSE.pack(notification.id, 0, -error, 0))
    with contextlib.suppress(ProcessLookupError, FileNotFoundError):
        fcntl.ioctl(listener, IOCTL_NOTIF_SEND, response, True)


def is_thread_creation(notification: Notification) -> bool:
    """A ``clone`` that starts a thread in the same process and no new namespace."""
    if syscall_name(notification.syscall) != "clone":
        return False
    flags = notification.args[0]
    return bool(flags & CLONE_THREAD) and not flags & CLONE_NAMESPACES


def syscall_name(number: int) -> str:
    """The name of system call ``number`` on this machine's architecture."""
    try:
        return bytes(_pyseccomp().resolve_syscall(0, number)).decode()
    except (SeccompUnavailable, ValueError):
        return f"syscall {number}"


def describe(notification: Notification) -> str:
    """The violation as the verdict states it, e.g. ``fork() (process creation)``."""
    name = syscall_name(notification.syscall)
    args = notification.args
    if name == "clone":
        flags = args[0]
        why = "namespaces and mounts" if flags & CLONE_NAMESPACES else "process creation"
        return f"clone(flags={flags:#x}) ({why})"
    if name in SOCKET_CALLS:
        try:
            family = socket.AddressFamily(args[0]).name
        except ValueError:
            family = str(args[0])
        return f"{name}({family}) (network access)"
    if name in SIGNAL_CALLS:
        target = args[0] - (1 << 64) if args[0] >= 1 << 63 else args[0]
        signum = args[2] if name == "rt_tgsigqueueinfo" or name == "tgkill" else args[1]
        try:
            what = signal.Signals(signum).name
        except ValueError:
            what = f"signal {signum}"
        return f"{name}(pid {target}, {what}) (signalling another process)"
    if name == "prctl":
        return f"prctl({args[0]}) (changing its own seccomp filter or memory map)"
    if name == "ioctl":
        return "ioctl(TIOCSTI) (typing into a terminal)"
    if name == "personality":
        return f"personality({args[0]:#x}) (changing the execution domain)"
    return f"{name}() ({FORBIDDEN.get(name, 'forbidden')})"
