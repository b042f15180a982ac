"""Raise the display thread's scheduling priority where the operating system allows it.

A busy tower (a second program, a virus scan) otherwise delays the thread that shows frames;
at real-time priority it runs as soon as a frame is ready. Never fails: where nothing is
allowed, the thread stays at normal priority and `livescope doctor` says how to enable it.
"""

from __future__ import annotations

import ctypes
import os
import platform
import threading

RT_PRIORITY = 10  # SCHED_FIFO priority: above normal threads, far below the kernel's own


def raise_thread_priority() -> str:
    """Raise the calling thread's priority; returns what is now in effect, in words."""
    system = platform.system()
    try:
        if system == "Linux":
            return _linux()
        if system == "Darwin":
            return _macos()
        if system == "Windows":
            return _windows()
    except Exception as exc:  # noqa: BLE001 - any refusal leaves the thread as it was
        return f"normal ({type(exc).__name__}: {exc})"
    return "normal (no priority control on this system)"


def _linux() -> str:
    try:
        # pid 0 is the calling thread on Linux: only the display thread is raised.
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(RT_PRIORITY))
        return f"real-time (SCHED_FIFO {RT_PRIORITY})"
    except PermissionError:
        pass
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, -10)
        return "raised (nice -10)"
    except PermissionError:
        return "normal (no permission: see `livescope doctor`)"


def _macos() -> str:
    qos_class_user_interactive = 0x21
    lib = ctypes.CDLL("/usr/lib/libSystem.dylib")
    if lib.pthread_set_qos_class_self_np(qos_class_user_interactive, 0) == 0:
        return "raised (QoS user-interactive)"
    return "normal (QoS request refused)"


def _windows() -> str:
    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    thread_priority_time_critical = 15
    if kernel32.SetThreadPriority(kernel32.GetCurrentThread(), thread_priority_time_critical):
        return "raised (THREAD_PRIORITY_TIME_CRITICAL)"
    return "normal (SetThreadPriority refused)"


def probe() -> tuple[str, str]:
    """(what a display thread would get now, how to enable more), from a throwaway thread."""
    box: dict = {}

    def run():
        box["got"] = raise_thread_priority()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(5)
    got = box.get("got", "unknown")
    system = platform.system()
    if got.startswith("real-time") or system != "Linux":
        hint = ""
    else:
        hint = ("for real-time priority run as root, or grant the interpreter CAP_SYS_NICE "
                "(sudo setcap cap_sys_nice+ep \"$(readlink -f \"$(which python3)\")\"), or allow rtprio for your "
                "user in /etc/security/limits.conf")
    return got, hint
