"""``trifactor measure``: the figures the README quotes, measured again and written to ``docs/measurements.md``.

Each part composes what a command already measures and writes its own section of the file, leaving the others as
they are, so parts can run alone and at different times:

- :mod:`.accuracy`: the golden models' test accuracy over seeds, per learning rule (``trifactor bench``, ``compare``);
- :mod:`.learned`: learned and reduced feedback (DDFA dense and sparse, rank-1 DFA, zero start) against BP, DFA and
  SSDFA over seeds, float and fixed, with DDFA's angles to backpropagation and Gaussian against Rademacher directions;
- :mod:`.conv`: convolutional networks (``configs/digits-conv.toml``, ``configs/mnist5k-conv.toml``) over seeds,
  float and fixed: BP, frozen BP-trained convolutions with an SSDFA head, convolutional DFA trained on chip, a
  control with random frozen convolutions, and the MLPs of the same weight budget and of the reference;
- :mod:`.cycles`: cycles per training sample against the roofline, dense and with zero skipping (``trifactor train
  --backend rtl``);
- :mod:`.speed`: simulation speed (``make speed``);
- :mod:`.synth`: the reference cores alone on the UP5K and the ECP5-85F over seeds (``trifactor synth``);
- :mod:`.variants`: what learned feedback (DDFA) and convolutions cost the core, the same way;
- :mod:`.boards`: the iCEBreaker and ULX3S builds (``trifactor build``);
- :mod:`.sweep`: the UP5K design-space sweep (``trifactor sweep configs/sweep-up5k.toml``), every task again.

Every section records the command that measured it, the commit (and whether the working tree differed from it), the
date, the machine and its load, and the Python and tool versions (:mod:`.provenance`); a JSON copy of the part's
figures goes to ``build/measure/<part>.json``.
"""

import json
import types
from pathlib import Path

from ..util.checks import check_count, check_epochs, check_seed_count
from ..util.errors import UsageError
from ..util.output import write_json
from . import accuracy, boards, conv, cycles, learned, speed, sweep, synth, variants
from .common import Steps
from .document import check_document, write_section
from .provenance import Provenance

__all__ = ["PARTS", "DOCUMENT", "parse_parts", "measure"]

#: part -> its module (``DESCRIPTION``, ``steps(options)``, ``measure(options, steps) -> (markdown, data)``), in order
PARTS = {"accuracy": accuracy, "learned": learned, "conv": conv, "cycles": cycles, "speed": speed, "synth": synth,
         "variants": variants, "boards": boards, "sweep": sweep}
DOCUMENT = Path("docs") / "measurements.md"
JSON_COPIES = Path("build") / "measure"
DEFAULTS = {"seeds": 3, "epochs": None, "runs": 3, "quiet": False}


def _plain(value):
    """A NumPy number as Python's, anything else JSON cannot take as its text."""
    return value.item() if hasattr(value, "item") else str(value)


def parse_parts(names) -> list:
    """The parts named (each may be a comma-separated list; ``all``: every part), known, in :data:`PARTS` order."""
    wanted = [name.strip() for text in (names or ["all"]) for name in text.split(",") if name.strip()]
    fix = f"use --what with one or more of {', '.join(PARTS)}, or all (e.g. --what synth,boards)"
    if not wanted:
        raise UsageError("--what names no part", fix)
    unknown = [name for name in wanted if name != "all" and name not in PARTS]
    if unknown:
        raise UsageError(f"--what {', '.join(unknown)}: not a part", fix)
    return list(PARTS) if "all" in wanted else [part for part in PARTS if part in wanted]


def measure(parts, out=DOCUMENT, *, command="trifactor measure", json_folder=JSON_COPIES, **options) -> dict:
    """Measure ``parts`` one after another and write each one's section of ``out`` as soon as it is done.

    Parameters
    ----------
    parts : list of str
        Out of :data:`PARTS` (see :func:`parse_parts`).
    out : path
        The measurements file; checked before any work (a new file, or one this function wrote).
    command : str
        The command line that runs each part alone; ``--what <part>`` is added for each section.
    json_folder : path
        Where each part's JSON copy (``<part>.json``: the provenance and the figures) goes.
    **options
        ``seeds`` (accuracy, learned, conv, synth, variants: seeds 0..N-1; default 3), ``epochs`` (accuracy, learned,
        conv: the configurations' own by default), ``runs`` (speed: timed runs per backend; default 3), ``quiet``
        (no progress lines or bars).

    Returns
    -------
    dict
        ``{part: {"provenance": ..., "figures": ...}}``.
    """
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"measure() got unknown options {sorted(unknown)}")
    options = types.SimpleNamespace(**{**DEFAULTS, **options})
    check_seed_count(options.seeds)
    check_epochs(options.epochs)
    check_count(options.runs, "--runs")
    parts = parse_parts(parts)
    check_document(out)
    descriptions = {name: module.DESCRIPTION for name, module in PARTS.items()}
    done = {}
    for part in parts:
        module = PARTS[part]
        provenance = Provenance(f"{command} --what {part}")
        body, figures = module.measure(options, Steps(part, module.steps(options), options.quiet))
        provenance.finish()
        header = "\n".join(["| | |", "|---|---|", *(f"| {name} | {value} |" for name, value in provenance.rows())])
        text = f"## {part}\n\n{module.DESCRIPTION[0].upper()}{module.DESCRIPTION[1:]}.\n\n{header}\n\n{body}"
        meta = {"date": f"{provenance.started:%Y-%m-%d}", "commit": provenance.git["short"] or "none"}
        done[part] = {"provenance": provenance.record(), "figures": json.loads(json.dumps(figures, default=_plain))}
        write_json(Path(json_folder) / f"{part}.json", done[part])
        write_section(out, part, meta, text, descriptions)
    return done
