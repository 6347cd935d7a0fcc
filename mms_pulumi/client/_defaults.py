"""Every default of the client in one place, with the reason for each."""

from __future__ import annotations

# The 2017 CLI used 20 s per request; connecting should never take long on a healthy network.
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0

# Retries: up to 11 tries in all, backing off 0.5, 1, 2, 4, 8, 16 s (full jitter), capped at
# 30 s and always inside the caller's deadline (as azure-core, which also allows 10).
MAX_RETRIES = 10
RETRY_BACKOFF_FACTOR = 0.5
RETRY_BACKOFF_MAX = 30.0

# Polling an async operation: first check 0.1 s after the 202, then wait 8% of the time
# already spent, so completion is noticed within ~8% of the operation's length, never
# waiting longer than POLLING_INTERVAL between checks. (The 2017 CLI polled every 5 s.)
FIRST_POLL_DELAY = 0.1
POLL_ELAPSED_FRACTION = 0.08
POLLING_INTERVAL = 5.0

# How long begin_*().result() waits when the caller gives no timeout.
OPERATION_TIMEOUT = 1800.0

# A POST whose outcome is unknown is looked up among objects created since this long
# before the attempt (absorbs clock skew between us and the service).
RECONCILE_CLOCK_SKEW = 60.0
