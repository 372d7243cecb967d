"""The golden models: the executable specification of trifactor's hardware.

``golden`` imports nothing from the rest of trifactor; ``hdl``, ``tb`` and ``scripts``
import it (configuration, feedback matrices, the bit-exact integer model).
"""
