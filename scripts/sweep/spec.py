"""The sweep specification (``trifactor sweep SPEC.toml``): a base configuration, the points, the measurements.

::

    name = "sweep-up5k"              # the report's folder, build/sweep/<name>/ (default: the file's stem)
    base = "digits.toml"             # a configuration file, relative to this one; or an inline [base] table

    [grid]                           # every combination of these values
    "hardware.lanes" = [2, 4, 8]
    "network.sizes" = [[64, 32, 10], [64, 64, 10]]

    [[points]]                       # and/or a list of points (each one crossed with the grid)
    "feedback.nonzeros_per_row" = 1

    [accuracy]                       # the fixed golden model's test accuracy
    seeds = [0, 1, 2]                # (or a count: seeds = 3); epochs = N (default: [training] epochs)
    [cycles]                         # the core in RTL simulation: cycles per training sample
    seeds = [0]
    samples = 200                    # the first N training samples of the seed's first epoch
    [synth]                          # resources and Fmax; one place-and-route per seed
    target = "up5k"
    seeds = [0, 1]

A key is a configuration key as ``section.key`` (``fixed.weight.width`` for a format's field); TOML's
unquoted dotted keys mean the same. A ``[[conv]]`` layer's key is ``conv.<layer>.<key>`` (``conv.0.channels``,
layers counted from 0 as in the file); ``conv`` alone replaces the whole list of layers. When a point changes a
convolution (or ``network.input``) and not ``network.sizes``, the first of the sizes follows the last
convolution's output, as the configuration requires. A measurement is made when its table is there. Every point's
configuration is validated as a configuration file is; one that is not valid is kept with its reason
(the other points are measured). A spec that cannot be read, or none of whose points is valid, raises
:class:`UsageError`.
"""

import copy
import difflib
import json
import itertools
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from trifactor.golden.config import Config, ConfigError, config_from_dict

from ..flow.synth import TARGETS
from ..util.errors import UsageError

__all__ = ["MEASUREMENTS", "Point", "Spec", "load_spec", "parse_spec"]

#: what a sweep can measure, in the order they are reported
MEASUREMENTS = ("accuracy", "cycles", "synth")
#: each measurement's options and their defaults (None: required; "seeds" may also be a count)
OPTIONS = {
    "accuracy": {"seeds": [0, 1, 2], "epochs": None},  # None: each point's [training] epochs
    "cycles": {"seeds": [0], "samples": 200},
    "synth": {"target": None, "seeds": [0]},
}
TOP_KEYS = ("name", "base", "grid", "points", *MEASUREMENTS)


@dataclass(frozen=True)
class Point:
    """One configuration of the sweep.

    Members
    -------
    index : int
        Its number in the report (from 0, grid order).
    settings : dict
        ``{dotted key: value}``, the swept keys' values.
    config : Config or None
        The validated configuration, None when it is not valid.
    error : str or None
        Why the configuration is not valid (one line).
    fix : str or None
        What would make it valid.
    """

    index: int
    settings: dict
    config: Config | None
    error: str | None
    fix: str | None = None

    def label(self, short: dict) -> str:
        """``lanes=2, sizes=64-32-10`` with the keys as ``short`` names them (:meth:`Spec.short_names`)."""
        return ", ".join(f"{short[key]}={show(value)}" for key, value in self.settings.items()) or "base"


@dataclass(frozen=True)
class Spec:
    """A read sweep specification: ``measurements`` is ``{name: options}`` for the measurements asked for."""

    name: str
    path: str
    base: Config
    keys: tuple
    points: tuple
    measurements: dict

    def short_names(self) -> dict:
        """``{dotted key: its last part}``, the whole key where two keys end alike."""
        last = [key.rsplit(".", 1)[-1] for key in self.keys]
        return {key: name if last.count(name) == 1 else key for key, name in zip(self.keys, last)}

    def only(self, names) -> "Spec":
        """The spec restricted to the measurements ``names`` (``--only``), each of which it must have."""
        missing = [name for name in names if name not in self.measurements]
        if missing:
            raise UsageError(f"--only {missing[0]}: {self.path} has no [{missing[0]}] table",
                             f"add one, or use --only with {', '.join(self.measurements) or 'a measurement it has'}")
        return Spec(self.name, self.path, self.base, self.keys, self.points,
                    {name: options for name, options in self.measurements.items() if name in names})


def show(value) -> str:
    """A swept value for a label or table: lists as ``64-32-10``, tables as ``width=8/frac=6``."""
    if isinstance(value, list):
        return "-".join(map(show, value))
    if isinstance(value, dict):
        return "/".join(f"{k}={show(v)}" for k, v in value.items())
    return str(value).lower() if isinstance(value, bool) else str(value)


# -- reading ------------------------------------------------------------------------------------


def load_spec(path) -> Spec:
    """Read and check a sweep specification file."""
    path = Path(path)
    fix = "give a sweep specification such as configs/sweep-up5k.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file", fix) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot be read ({exc.__class__.__name__})", fix) from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})", "correct the TOML syntax") from None
    return parse_spec(raw, path)


def parse_spec(raw: dict, path: Path) -> Spec:
    """Check a parsed specification (``path``: where it came from, for messages and the base's folder)."""
    def error(key, problem, fix):
        return UsageError(f"{path}: {key} {problem}", fix)

    for key in raw:
        if key not in TOP_KEYS:
            raise error(key, "is not a sweep key", suggest(key, TOP_KEYS))
    name = raw.get("name", path.stem)
    if not isinstance(name, str) or not re.fullmatch(r"[\w.-]+", name):
        raise error("name", f"= {name!r} is not a folder name", "use letters, digits, '_', '-' and '.'")
    base_raw, base = read_base(raw.get("base"), path, error)
    known = known_keys(base)
    grid = settings_of(raw.get("grid", {}), "[grid]", known, error, leaf_lists=True, base=base.to_dict())
    listed = raw.get("points", [{}])
    if not isinstance(listed, list) or not listed or not all(isinstance(p, dict) for p in listed):
        raise error("points", "must be a list of tables", 'write [[points]] tables, e.g. [[points]] "hardware.lanes" = 4')
    listed = [settings_of(p, f"points[{i}]", known, error, leaf_lists=False) for i, p in enumerate(listed)]
    keys = tuple(dict.fromkeys(itertools.chain(*listed, grid)))
    for i, settings in enumerate(listed):
        both = [key for key in settings if key in grid]
        if both:
            raise error(f"points[{i}]", f"sets {both[0]!r}, which [grid] sweeps too", "set each key in one place")
    points = []
    for settings in listed:
        for values in itertools.product(*grid.values()):
            points.append(make_point(len(points), base_raw, base, {**settings, **dict(zip(grid, values))}, path))
    measurements = {name: measurement_options(name, raw[name], error) for name in MEASUREMENTS if name in raw}
    if not measurements:
        raise error("file", "asks for no measurement", f"add at least one of the tables {', '.join(f'[{m}]' for m in MEASUREMENTS)}")
    spec = Spec(name, str(path), base, keys, tuple(points), measurements)
    if not any(point.config for point in points):
        first = points[0]
        which = (f"the only point of {path} is not" if len(points) == 1 else
                 f"none of the {len(points)} points of {path} is")
        raise UsageError(f"{which} a valid configuration: point 0 ({first.label(spec.short_names())}): {first.error}",
                         f"{first.fix}, in [grid] or [[points]], so that at least one point is valid")
    return spec


def suggest(word, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return (f"did you mean '{close[0]}'? " if close else "") + f"known: {', '.join(choices)}"


def read_base(base, path: Path, error):
    """(the raw base configuration, its validated :class:`Config`) from ``base = "file.toml"`` or a ``[base]`` table."""
    if base is None:
        raise error("base", "is missing", 'add base = "digits.toml" (a configuration file) or a [base] table')
    if isinstance(base, dict):
        raw, source, stem = base, f"{path} [base]", path.stem
    elif isinstance(base, str):
        file = path.parent / base
        try:
            raw = tomllib.loads(file.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            reason = "no such file" if isinstance(exc, FileNotFoundError) else exc.__class__.__name__
            raise error("base", f"= {base!r}: cannot read {file} ({reason})",
                        "name a configuration file, relative to the spec's folder") from None
        source, stem = str(file), file.stem
    else:
        raise error("base", f"= {base!r} is neither a file name nor a table", 'write base = "digits.toml"')
    try:
        return raw, config_from_dict(raw, source=source, default_name=stem)
    except ConfigError as exc:
        raise error("base", f"is not a valid configuration ({exc})", exc.fix) from None


def known_keys(config: Config) -> list:
    """Every dotted key a point may set: the resolved configuration's, sections and format fields included, and
    each ``[[conv]]`` layer's as ``conv.<layer>.<key>`` (``conv`` itself: the whole list)."""
    data = config.to_dict()
    return list(flatten({k: v for k, v in data.items() if k not in ("name", "derived")}, nodes=True, lists=True))


def flatten(table: dict, prefix: str = "", nodes: bool = False, lists: bool = False) -> dict:
    """``{"a": {"b": 1}}`` as ``{"a.b": 1}`` (``nodes``: the tables' own keys too, ``"a"``; ``lists``: a list of
    tables too, ``{"conv": [{"channels": 8}]}`` as ``{"conv": [...], "conv.0": {...}, "conv.0.channels": 8}`` with
    ``nodes``)."""
    flat = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if lists and isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            value = {str(index): item for index, item in enumerate(value)}
            if nodes:
                flat[dotted] = table[key]
            flat.update(flatten(value, f"{dotted}.", nodes, lists))
        elif isinstance(value, dict):
            if nodes:
                flat[dotted] = value
            flat.update(flatten(value, f"{dotted}.", nodes, lists))
        else:
            flat[dotted] = value
    return flat


def settings_of(table, where: str, known: list, error, leaf_lists: bool, base: dict | None = None) -> dict:
    """The ``{dotted key: value}`` (``leaf_lists``: ``{dotted key: [values]}``) of a [grid] or a point, checked
    (``base``: the base configuration's :meth:`~golden.config.Config.to_dict`, for the examples of messages)."""
    if not isinstance(table, dict):
        raise error(where, "must be a table", f'write {where} with keys like "hardware.lanes"')
    settings = flatten(table)
    for key, value in settings.items():
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            raise error(where, f"key {key!r} is not a configuration key",
                        (f"did you mean '{close[0]}'? " if close else "") +
                        "write section.key as in docs/configuration.md, e.g. hardware.lanes")
        if leaf_lists and (not isinstance(value, list) or not value):
            example = value if not isinstance(value, list) else flatten(base, nodes=True, lists=True)[key]
            raise error(where, f"{key} = {toml(value)} must be a non-empty list of values",
                        f"write the values to sweep as a list, e.g. {key} = [{toml(example)}]")
    return settings


def toml(value) -> str:
    """``value`` as TOML writes it (for messages): ``[16, 7, 3]``, ``"digits"``, ``{width = 8, frac = 6}``."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return f"[{', '.join(map(toml, value))}]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml(v)}" for k, v in value.items()) + "}"
    return str(value)


def make_point(index: int, base_raw: dict, base: Config, settings: dict, path: Path) -> Point:
    """The base configuration with ``settings``, validated; an invalid one is kept with its reason. A setting of a
    convolution (``conv...``, ``network.input``) without ``network.sizes`` makes the first size the convolutions'
    output (:func:`follow_convolutions`)."""
    raw = copy.deepcopy(base_raw)
    for key, value in settings.items():
        *sections, last = key.split(".")
        table = raw
        for section in sections:
            if isinstance(table, list):  # a [[conv]] layer: conv.<layer>.<key>
                table = table[int(section)]
            else:
                table = table.setdefault(section, {})
        if isinstance(table, list):
            table[int(last)] = value
        else:
            table[last] = value
    if "network.sizes" not in settings and any(key == "network.input" or key.split(".")[0] == "conv"
                                               for key in settings):
        follow_convolutions(raw)
    try:
        return Point(index, settings, config_from_dict(raw, source=f"{path} point {index}", default_name=base.name), None)
    except ConfigError as exc:
        return Point(index, settings, None, f"{exc.key} {exc.problem}", exc.fix)


def follow_convolutions(raw: dict):
    """Make ``raw``'s first ``[network] sizes`` entry the flat output of its last ``[[conv]]`` layer (or its
    ``input`` without one), when both can be worked out; else leave it, for the validation to report."""
    from trifactor.golden.config.conv import ConvSpec
    from trifactor.golden.config.schema import CONV_SCHEMA

    network = raw.get("network", {})
    sizes, shape = network.get("sizes"), network.get("input")
    if not isinstance(sizes, list) or not sizes or not isinstance(shape, list) or len(shape) != 3:
        return
    geometry = ("channels", "kernel", "stride", "padding", "pool")
    try:
        shape = tuple(shape)
        for table in raw.get("conv", []):
            values = {key: table.get(key, CONV_SCHEMA[key]) for key in geometry}
            if any(isinstance(v, bool) or not isinstance(v, int) or v < (0 if key == "padding" else 1)
                   for key, v in values.items()):
                return
            shape = ConvSpec(in_shape=shape, mode="trained", feedback="rom", dilation=0, groups=1, **values).out_shape
        if all(isinstance(n, int) and n >= 1 for n in shape):
            network["sizes"] = [math.prod(shape), *sizes[1:]]
    except (TypeError, AttributeError):
        return


def measurement_options(name: str, table, error) -> dict:
    """``[accuracy]``, ``[cycles]`` or ``[synth]`` with its defaults filled in, checked."""
    where = f"[{name}]"
    if not isinstance(table, dict):
        raise error(name, "must be a table", f"write [{name}] with its keys below it")
    for key in table:
        if key not in OPTIONS[name]:
            raise error(f"{where} {key}", "is not a known key", suggest(key, OPTIONS[name]))
    options = {**OPTIONS[name], **table}
    seeds = options["seeds"]
    if isinstance(seeds, int) and not isinstance(seeds, bool) and seeds >= 1:
        seeds = list(range(seeds))
    if (not isinstance(seeds, list) or not seeds or len(set(seeds)) != len(seeds)
            or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds)):
        raise error(f"{where} seeds", f"= {seeds!r} is not a list of distinct seeds >= 0 (or a count >= 1)",
                    "write e.g. seeds = [0, 1, 2] or seeds = 3")
    options["seeds"] = tuple(seeds)
    for key in ("epochs", "samples"):
        value = options.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise error(f"{where} {key}", f"= {value!r} is not a positive whole number", f"write e.g. {key} = 10")
    if name == "synth" and options["target"] not in TARGETS:
        raise error(f"{where} target", f"= {options['target']!r} is not a target",
                    f"use one of {', '.join(sorted(TARGETS))}")
    return options
