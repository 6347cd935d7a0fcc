"""The local defaults, where programs written before ``mms_pulumi.local`` found them.

They are defined in ``mms_pulumi.local``; this module only re-exports them.
"""

from __future__ import annotations

from mms_pulumi.local import *  # noqa: F403
from mms_pulumi.local import __all__ as __all__
