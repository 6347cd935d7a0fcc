"""The scoring process a local service runs: the driver program behind ``POST /score``.

The standard library and psutil only, so a scoring process starts fast and needs nothing
the bundle does not bring.
"""
