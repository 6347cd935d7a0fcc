"""``python -m mms_pulumi.policy``: the directory to give ``--policy-pack``."""

from mms_pulumi.policy import PACK_DIR

print(PACK_DIR)
