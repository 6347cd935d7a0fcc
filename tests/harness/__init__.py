"""An engine-faithful harness: the real dynamic-provider plugin driven as the Pulumi engine does."""

from tests.harness.plugin import PluginError, PluginProcess, serialized_provider

__all__ = ["PluginError", "PluginProcess", "serialized_provider"]
