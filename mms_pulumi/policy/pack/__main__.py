"""The mms-pulumi policy pack, as the engine runs it (``--policy-pack`` this directory)."""

from mms_pulumi.policy import mms_policy_pack

mms_policy_pack()
