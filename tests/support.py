"""Small helpers shared by test modules."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import time


def free_port() -> int:
    """A loopback port nothing listens on now (the caller binds it soon after)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def kube_config(token: str, server: str = "https://k8s.local") -> str:
    """A minimal YAML kubeconfig whose user authenticates with ``token``."""
    return (
        f"apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: {server}}}}}]\n"
        f"users: [{{name: u, user: {{token: {token}}}}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
    )


def processes() -> dict[int, tuple[int, list[str]]]:
    """Every process as pid → (parent pid, full argv), read from ``/proc``."""
    table: dict[int, tuple[int, list[str]]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as raw:
                argv = [part.decode(errors="replace") for part in raw.read().split(b"\0") if part]
            with open(f"/proc/{entry}/stat") as stat:
                # The command name may hold spaces or parentheses: ppid follows the last ')'.
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        table[int(entry)] = (ppid, argv)
    return table


def stop_emulators_on(port: int, timeout: float = 30.0) -> None:
    """Stop every emulator process started with ``--port <port>``, found by its command line
    (whether or not it answers), SIGTERM then SIGKILL, and wait until each pid is gone."""

    def matches(argv: list[str]) -> bool:
        return "mms_pulumi.emulator" in argv and any(
            a == "--port" and b == str(port) for a, b in itertools.pairwise(argv)
        )

    doomed = [pid for pid, (_, argv) in processes().items() if matches(argv)]
    for pid in doomed:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + timeout
    for pid in doomed:
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child (ours, not yet reaped) is gone for every purpose here.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def account_config(endpoint: str, hosting_account: str, token: str | None = None) -> dict[str, str]:
    """The ``mms:*`` stack config of one hosting account (subscription ``sub``, group ``rg``)."""
    config = {
        "mms:endpoint": endpoint,
        "mms:subscriptionId": "sub",
        "mms:resourceGroup": "rg",
        "mms:hostingAccount": hosting_account,
    }
    return config if token is None else {**config, "mms:token": token}
