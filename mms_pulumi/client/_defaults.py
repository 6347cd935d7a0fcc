"""Every default of the client in one place, with the reason for each."""

from __future__ import annotations

# --- one request ----------------------------------------------------------------------------

# A healthy endpoint accepts a connection in milliseconds; 10 s rides out a slow DNS or TLS
# start without hanging a deployment. MMS's synchronous calls answered well within the
# 20 s the 2017 CLI allowed per request; 30 s leaves room for a loaded service.
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0

# The Pulumi plugin serves resources from 4 threads, widened to 32 by this package
# (resources/_workers.py); one kept-alive connection per thread avoids new handshakes on
# every poll. urllib3 would otherwise open extra connections and throw them away.
POOL_MAXSIZE = 32
# Host pools kept: the endpoint, plus any host an absolute nextLink or Operation-Location
# names.
POOL_CONNECTIONS = 4
USER_AGENT = "mms-pulumi/0.1"

# --- retries --------------------------------------------------------------------------------

# Up to 10 retries (as azure-core), backing off with full jitter under a ceiling that
# doubles from 0.5 s to at most 30 s: transient throttling clears within seconds, and the
# whole budget (about 75 s on average, 150 s at worst) stays well inside an operation's
# 30-minute timeout. Every retry also stays inside the caller's deadline.
MAX_RETRIES = 10
RETRY_BACKOFF_FACTOR = 0.5
RETRY_BACKOFF_MAX = 30.0
# A Retry-After longer than this is not waited out: the error (with its retry_after) goes
# to the caller, who can decide, instead of a call silently hanging for an hour.
RETRY_AFTER_MAX = 300.0
# A call given no deadline (a get, a list, a delete) still ends: all its tries and waits
# together stay within this, so a service answering 503 with long Retry-Afters cannot hold
# one call for max_retries x RETRY_AFTER_MAX (50 minutes).
CALL_DEADLINE = 300.0

# --- waiting on async operations ------------------------------------------------------------

# First check POLL_FLOOR after the 202, then every POLL_FLOOR + 5 % of the time already
# waited, never more than POLLING_INTERVAL apart. Completion is then noticed at most
# POLL_FLOOR + 5 % of the operation's length late: 0.15 s for a 1 s build, 0.6 s for 10 s,
# under 10 % for anything longer than 2 s, and at most POLLING_INTERVAL (5 s, which is
# 5 % of the ~100 s at which the cap takes over). The 2017 CLI polled every 5 s flat, which
# made a 1 s build take up to 5 s.
POLL_FLOOR = 0.1
POLL_ELAPSED_FRACTION = 0.05
POLLING_INTERVAL = 5.0

# How long begin_*().result() waits when the caller gives no timeout; the same as the
# resources' default for mms:operationTimeout, and 3x the 2017 CLI's 10-minute limit.
OPERATION_TIMEOUT = 1800.0

# --- POSTs whose outcome is unknown ---------------------------------------------------------

# An object counts as created by a lost POST when MMS stamped it at most this long before
# the first attempt started: clocks of NTP-synced hosts agree well within a second, while
# a wider window would adopt an identical object someone registered just before.
RECONCILE_CLOCK_SKEW = 1.0
