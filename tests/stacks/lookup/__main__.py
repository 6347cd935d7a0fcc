"""A program that reads existing MMS objects by id with ``.get`` (config: modelId, imageId)."""

from __future__ import annotations

import pulumi

from mms_pulumi import Image, Model

config = pulumi.Config()
model = Model.get("existing-model", config.require("modelId"))
image = Image.get("existing-image", config.require("imageId"))
pulumi.export("model_name", model.name)
pulumi.export("model_version", model.version)
pulumi.export("image_state", image.creation_state)
pulumi.export("registry_info", image.registry_info)
