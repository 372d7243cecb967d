"""Refusing a parameter in a component's constructor."""


def reject(component, message: str):
    """Raise ``ValueError(message)`` from ``component.__init__``.

    The half-built component is marked as used first: otherwise Amaranth warns, when it is
    garbage collected, that an elaboratable was "created but never used", at some
    unrelated later point.
    """
    component._MustUse__silence = True
    raise ValueError(message)
