"""One palette and one figure style for every figure: the report's PDFs and the docs' PNGs (issue 19).

Every figure colours a method, a noise kind, a kind of cell or a code by
:func:`colour` and names it by :func:`label`, so a method keeps its colour
from one figure to the next (TAC is always blue, Uniform-MSP always orange).
Names not listed here (a new experiment's formats, say) get a colour of
their own from the spare colours, fixed by the name alone, so they too keep
it across figures; list them in :data:`COLOURS` to choose it.

:func:`figure_style` sets the fonts (8 pt text, 7 pt legends) for figures
drawn at their printed size: :data:`COLUMN_WIDTH_IN` beside a table,
:data:`TEXT_WIDTH_IN` across the report's text (A4, 2 cm margins). Colours (lower-case hex, as matplotlib reports them) are
Okabe and Ito's (2008) colour-blind-safe set, then matplotlib's ``tab10``.
"""

from __future__ import annotations

import zlib
from contextlib import contextmanager

__all__ = ["COLOURS", "LABELS", "SPARE_COLOURS", "COLUMN_WIDTH_IN", "TEXT_WIDTH_IN", "FIGURE_HEIGHT_IN",
           "FONT_SIZE", "colour", "label", "figure_style", "CLEAN_STYLE", "CLAIM_STYLE"]

#: Width of a figure beside its headline table (inches).
COLUMN_WIDTH_IN = 3.9
#: Width of a figure across the report's text (inches; A4 less 2 cm margins is 6.7 in).
TEXT_WIDTH_IN = 6.6
#: Height of one row of panels (inches).
FIGURE_HEIGHT_IN = 2.6
#: Body font size of figures (points, at the printed size); legends and ticks one point smaller.
FONT_SIZE = 8

_BLUE, _ORANGE, _GREEN, _VERMILION = "#0072b2", "#e69f00", "#009e73", "#d55e00"
_PURPLE, _SKY, _YELLOW, _BLACK, _GREY = "#cc79a7", "#56b4e9", "#f0e442", "#000000", "#7f7f7f"

#: Colour by method, noise kind, cell kind or code (the names records carry).
COLOURS = {
    # methods (qtaml_tac.METHODS)
    "tac": _BLUE, "uniform_msp": _ORANGE, "magnitude_ecc": _GREEN, "uncompensated": _BLACK,
    "mean_only": _GREY, "tac_alloc_only": _SKY, "tac_always_mean": _PURPLE, "tac_exact_mean": _VERMILION,
    "sensitivity_ecc": _PURPLE, "random_ecc": "#17becf", "weight_scaling": "#bcbd22",
    "uniform_secded": "#8c564b", "uniform_bch": "#8c6d31",
    # fine-tuning noise kinds (qtaml_tac.finetune.NOISES)
    "pretrained": _BLACK, "law": _BLUE, "gaussian": _ORANGE, "moments": _GREEN, "none": _GREY,
    "randbet": _PURPLE,
    # cells (lifetime)
    "SLC": _BLUE, "MLC-Gray": _ORANGE, "MLC-binary": _VERMILION, "TLC-Gray": _GREEN, "TLC-binary": _PURPLE,
    # oxides (physics)
    "sio2": _BLUE, "hfo2": _VERMILION,
    # number formats (qtaml_tac.experiments.formats.FORMAT_NAMES)
    "int8_tensor": _BLACK, "int8_channel": _GREY, "int4_g128": _BLUE, "int4_g32": _SKY, "bfloat16": _VERMILION,
    "float16": _ORANGE, "float8_e4m3": _PURPLE, "mxfp4": _GREEN,
}

#: Printed name by the same keys (a name not listed prints as itself, underscores as spaces).
LABELS = {
    "tac": "TAC", "uniform_msp": "Uniform-MSP", "magnitude_ecc": "magnitude ECC", "uncompensated": "uncompensated",
    "mean_only": "mean correction only", "tac_alloc_only": "TAC allocation only",
    "tac_always_mean": "TAC, mean always", "tac_exact_mean": "TAC, exact MMSE", "sensitivity_ecc": "sensitivity ECC",
    "random_ecc": "random ECC", "weight_scaling": "weight scaling", "uniform_secded": "uniform SEC-DED",
    "uniform_bch": "uniform BCH", "sio2": "SiO$_2$-like", "hfo2": "HfO$_2$-like",
    "int8_tensor": "int8 per tensor", "int8_channel": "int8 per channel", "int4_g128": "int4, groups of 128",
    "int4_g32": "int4, groups of 32", "float8_e4m3": "FP8 E4M3", "mxfp4": "MXFP4",
}

#: Colours for names not in :data:`COLOURS` (matplotlib's tab10 less the ones above).
SPARE_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#e377c2", "#17becf", "#7f7f7f")

#: The line at 95% of clean accuracy.
CLEAN_STYLE = {"color": _GREY, "linestyle": ":", "linewidth": 1.0}
#: A claim of the paper drawn as a band.
CLAIM_STYLE = {"color": _GREEN, "alpha": 0.15, "linewidth": 0}


def colour(name: str) -> str:
    """The colour of ``name`` (a method, noise kind, cell kind, oxide): from :data:`COLOURS`, else a spare one
    fixed by the name (the same in every figure and every run)."""
    if name in COLOURS:
        return COLOURS[name]
    return SPARE_COLOURS[zlib.crc32(str(name).encode()) % len(SPARE_COLOURS)]


def label(name: str) -> str:
    """The printed name of ``name``: :data:`LABELS`, else the name with spaces for underscores."""
    return LABELS.get(name, str(name).replace("_", " "))


@contextmanager
def figure_style():
    """matplotlib settings of every figure (fonts, grid, vector text in PDFs) while the block runs."""
    import matplotlib

    small = FONT_SIZE - 1
    with matplotlib.rc_context({
        "font.size": FONT_SIZE, "axes.titlesize": FONT_SIZE, "axes.labelsize": FONT_SIZE,
        "xtick.labelsize": small, "ytick.labelsize": small, "legend.fontsize": small,
        "legend.frameon": False, "axes.grid": True, "grid.alpha": 0.3, "grid.linewidth": 0.5,
        "lines.linewidth": 1.3, "lines.markersize": 3.5, "axes.spines.top": False, "axes.spines.right": False,
        "pdf.fonttype": 42, "savefig.bbox": "tight", "savefig.pad_inches": 0.02,
    }):
        yield
