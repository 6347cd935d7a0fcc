"""Small helpers shared by test modules."""

from __future__ import annotations


def kube_config(token: str, server: str = "https://k8s.local") -> str:
    """A minimal YAML kubeconfig whose user authenticates with ``token``."""
    return (
        f"apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: {server}}}}}]\n"
        f"users: [{{name: u, user: {{token: {token}}}}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
    )
