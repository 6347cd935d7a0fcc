"""An engine-faithful harness: the real dynamic-provider plugin driven as the Pulumi engine
does, around a real Pulumi program run under the SDK's mocks.

Typical use::

    engine = Engine(
        ROOT / "examples" / "quickstart",          # or a callable program body
        project="mms-quickstart",
        stack="test",
        config={"mms:endpoint": url, "mms:token": TOKEN},
        secret_keys={"mms:token"},
        state_path=tmp_path / "state.json",
    )
    plan = engine.preview()                       # Check/Diff only
    assert plan.ops() == {"churn-model": "create", ...}
    result = engine.up()                          # preview phase, then the update
    assert strip_secrets(result.outputs["model_version"]) == 1
    engine.up(expect_no_changes=True)
    engine.refresh(expect_no_changes=True)
    engine.destroy()
    assert_no_plaintext([TOKEN], engine.all_text())

Values (inputs, outputs, stack outputs) are the engine's view: secrets are
``{SIG_KEY: SECRET_SIG, "value": v}`` where they were marked (``is_secret``,
``strip_secrets``), unknowns are the ``UNKNOWN`` sentinel (``is_unknown``), numbers that
crossed the wire are floats. Outputs used by a callable program must be created inside it:
each run has its own event loop.
"""

from tests.harness.engine import Engine
from tests.harness.plugin import PluginError, PluginProcess, serialized_provider
from tests.harness.results import EngineError, Result, RpcCall, Step
from tests.harness.secrets import assert_no_plaintext
from tests.harness.state import Resource
from tests.harness.wire import UNKNOWN, is_secret, is_unknown, strip_secrets

__all__ = [
    "UNKNOWN",
    "Engine",
    "EngineError",
    "PluginError",
    "PluginProcess",
    "Resource",
    "Result",
    "RpcCall",
    "Step",
    "assert_no_plaintext",
    "is_secret",
    "is_unknown",
    "serialized_provider",
    "strip_secrets",
]
