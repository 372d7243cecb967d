"""Refusing a parameter in a component's constructor."""

from trifactor.golden.config import Config


def reject(component, message: str):
    """Raise ``ValueError(message)`` from ``component.__init__``.

    The half-built component is marked as used first: otherwise Amaranth warns, when it is
    garbage collected, that an elaboratable was "created but never used", at some
    unrelated later point.
    """
    component._MustUse__silence = True
    raise ValueError(message)


def require_hardware(component, config):
    """Raise ``ValueError`` (a :class:`golden.config.ConfigError`) unless the hardware can implement ``config``."""
    try:
        config.check_hardware()
    except ValueError:
        component._MustUse__silence = True
        raise


def require_config(component, config):
    """Raise ``TypeError`` unless ``config`` is a :class:`golden.config.Config` (``component`` marked used first)."""
    if not isinstance(config, Config):
        component._MustUse__silence = True
        raise TypeError(f"config must be a Config, not {config!r}")
