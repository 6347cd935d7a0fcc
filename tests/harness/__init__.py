"""An engine-faithful harness: the real dynamic-provider plugin driven as the Pulumi engine does."""

from tests.harness.engine import Engine, EngineError, Result, Step
from tests.harness.plugin import PluginError, PluginProcess, serialized_provider
from tests.harness.secrets import assert_no_plaintext

__all__ = [
    "Engine",
    "EngineError",
    "PluginError",
    "PluginProcess",
    "Result",
    "Step",
    "assert_no_plaintext",
    "serialized_provider",
]
