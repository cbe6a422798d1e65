"""The standard video SR test sets in the layouts they are distributed in.

:func:`detect` looks at a folder and returns its clips: for each, the HR frame paths, the
LR frame paths when the set ships LR frames of the asked protocol (else None: the harness
makes them), and which frames are scored. Recognised layouts (first match wins):

- ``reds``: REDS ``train_sharp/<clip>/`` (+ ``train_sharp_bicubic/X<s>/<clip>/``, BI);
  REDS4 is clips 000, 011, 015, 020 (all clips with ``--clips all``).
- ``vimeo``: Vimeo-90K septuplets ``sequences/<a>/<b>/im1..7.png`` (+ a sibling LR tree
  ``BDx4/``, ``BIx4/`` or ``sequences_BDx4/``... of the same shape); ``sep_testlist.txt``
  picks the test septuplets when present; the centre frame (``im4``) is scored.
- ``pairs``: ``GT/<clip>/`` (or ``HR/``, ``truth/``) beside ``BDx4/<clip>/``,
  ``BIx4/<clip>/`` (BasicSR / mmagic's Vid4, SPMCS, UDM10, Vimeo trees).
- ``clip-pairs``: ``<clip>/GT/`` (or ``HR/``, ``truth/``) beside ``<clip>/BDx4/``,
  ``<clip>/BIx4/`` (or SPMCS's ``<clip>/input4/``, LR of unstated degradation).
- ``clips``: HR only, ``<clip>/*.png`` (Vid4 as distributed, ``Frame 001.png`` or
  ``im1.png`` naming); a folder of frames alone is one clip.

Frames are sorted naturally (``im2`` before ``im10``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..io import IMAGE_EXTENSIONS, natural_key

__all__ = ["Clip", "Dataset", "detect", "LAYOUTS", "REDS4_CLIPS"]

LAYOUTS = ("reds", "vimeo", "pairs", "clip-pairs", "clips")
REDS4_CLIPS = ("000", "011", "015", "020")
HR_NAMES = ("GT", "HR", "gt", "hr", "truth")
# LR folders of a stated degradation: name -> (protocol, scale); "{s}" is the scale
LR_NAMES = {"BDx{s}": "BD", "BIx{s}": "BI", "BDx{s}_LR": "BD", "BIx{s}_LR": "BI",
            "LR_BD_x{s}": "BD", "LR_BI_x{s}": "BI", "sequences_BDx{s}": "BD",
            "sequences_BIx{s}": "BI"}
# LR folders whose degradation is not in the name (used only when the user says so)
LR_UNSTATED = ("input{s}", "LRx{s}", "LR")


@dataclass
class Clip:
    """One clip: HR frames, the LR frames if the set ships them, the frames scored.

    Attributes
    ----------
    name : str
    hr : list of str
        HR frame paths in order.
    lr : list of str or None
        LR frame paths (same order and count), or None when the harness makes them.
    scored : list of int
        Indices of the frames whose outputs are scored (all of them, or Vimeo's centre).
    """

    name: str
    hr: list
    lr: list | None = None
    scored: list = field(default_factory=list)

    def __post_init__(self):
        if not self.scored:
            self.scored = list(range(len(self.hr)))


@dataclass
class Dataset:
    """A detected test set.

    Attributes
    ----------
    root : str
    layout : str
        One of :data:`LAYOUTS`.
    clips : list of Clip
    lr_source : str
        Where the LR frames come from: ``"generated"`` (made from HR by the protocol),
        or the LR folder used (relative to ``root``), for every clip.
    notes : list of str
        What detection decided, for the report.
    """

    root: str
    layout: str
    clips: list
    lr_source: str
    notes: list = field(default_factory=list)


def _frames(folder):
    if not os.path.isdir(folder):
        return []
    names = sorted((n for n in os.listdir(folder) if not n.startswith(".")
                    and os.path.splitext(n)[1].lower() in IMAGE_EXTENSIONS
                    and os.path.isfile(os.path.join(folder, n))), key=natural_key)
    return [os.path.join(folder, n) for n in names]


def _subdirs(folder):
    if not os.path.isdir(folder):
        return []
    return sorted((n for n in os.listdir(folder) if not n.startswith(".")
                   and os.path.isdir(os.path.join(folder, n))), key=natural_key)


def _lr_folder(parent, protocol, scale, lr_folder=None):
    """The LR folder under ``parent`` for ``protocol``: (name, stated protocol) or None.

    ``lr_folder`` (the user's ``--lr-folder``) names one explicitly; its degradation is
    then taken to be ``protocol``."""
    if lr_folder:
        return (lr_folder, protocol) if os.path.isdir(os.path.join(parent, lr_folder)) else None
    for pattern, stated in LR_NAMES.items():
        name = pattern.format(s=scale)
        if stated == protocol and os.path.isdir(os.path.join(parent, name)):
            return name, stated
    return None


def _other_lr(parent, scale):
    """LR folders present under ``parent`` of any degradation (for the notes)."""
    names = [p.format(s=scale) for p in list(LR_NAMES) + list(LR_UNSTATED)]
    return [n for n in names if os.path.isdir(os.path.join(parent, n))]


def _hr_name(parent):
    for name in HR_NAMES:
        if os.path.isdir(os.path.join(parent, name)):
            return name
    return None


def _pair(clip, hr, lr):
    if lr is not None and len(lr) != len(hr):
        raise ValueError(f"clip {clip}: {len(hr)} HR frames but {len(lr)} LR frames")
    return Clip(clip, hr, lr)


def _reds(root, protocol, scale, clips):
    sharp = os.path.join(root, "train_sharp")
    names = _subdirs(sharp)
    wanted = names if clips == "all" else [c for c in (clips or REDS4_CLIPS)]
    missing = [c for c in wanted if c not in names]
    if missing:
        raise ValueError(f"{sharp}: clips {', '.join(missing)} not found (REDS4 is "
                         f"{', '.join(REDS4_CLIPS)})")
    lr_root = os.path.join(root, "train_sharp_bicubic", f"X{scale}")
    use_lr = protocol == "BI" and os.path.isdir(lr_root)
    out = [_pair(c, _frames(os.path.join(sharp, c)),
                 _frames(os.path.join(lr_root, c)) if use_lr else None) for c in wanted]
    source = os.path.relpath(lr_root, root) if use_lr else "generated"
    return out, source


def _vimeo(root, protocol, scale, clips, lr_folder):
    seq = os.path.join(root, "sequences")
    listing = os.path.join(root, "sep_testlist.txt")
    if os.path.isfile(listing):
        with open(listing) as f:
            keys = [line.strip() for line in f if line.strip()]
    else:
        keys = [f"{a}/{b}" for a in _subdirs(seq) for b in _subdirs(os.path.join(seq, a))]
    if clips and clips != "all":
        keys = [k for k in keys if k in clips]
    found = _lr_folder(root, protocol, scale, lr_folder)
    out = []
    for key in keys:
        hr = _frames(os.path.join(seq, key))
        if len(hr) != 7:
            raise ValueError(f"{os.path.join(seq, key)}: a septuplet has 7 frames, got "
                             f"{len(hr)}")
        lr = _frames(os.path.join(root, found[0], key)) if found else None
        clip = _pair(key, hr, lr)
        clip.scored = [3]
        out.append(clip)
    return out, (found[0] if found else "generated")


def _pairs(root, protocol, scale, clips, lr_folder):
    hr_name = _hr_name(root)
    found = _lr_folder(root, protocol, scale, lr_folder)
    names = _subdirs(os.path.join(root, hr_name))
    names = [n for n in names if not clips or clips == "all" or n in clips]
    out = [_pair(n, _frames(os.path.join(root, hr_name, n)),
                 _frames(os.path.join(root, found[0], n)) if found else None) for n in names]
    return out, (found[0] if found else "generated")


def _clip_pairs(root, protocol, scale, clips, lr_folder):
    out, sources = [], set()
    for n in _subdirs(root):
        if clips and clips != "all" and n not in clips:
            continue
        d = os.path.join(root, n)
        hr_name = _hr_name(d)
        if hr_name is None:
            continue
        found = _lr_folder(d, protocol, scale, lr_folder)
        out.append(_pair(n, _frames(os.path.join(d, hr_name)),
                         _frames(os.path.join(d, found[0])) if found else None))
        sources.add(f"<clip>/{found[0]}" if found else "generated")
    if len(sources) > 1:
        raise ValueError(f"{root}: some clips ship LR frames for this protocol and some do "
                         f"not ({', '.join(sorted(sources))}); use --lr generate")
    return out, (sources.pop() if sources else "generated")


def _clips(root, clips):
    own = _frames(root)
    if own:
        return [Clip(os.path.basename(os.path.normpath(root)), own)]
    out = []
    for n in _subdirs(root):
        if clips and clips != "all" and n not in clips:
            continue
        frames = _frames(os.path.join(root, n))
        if frames:
            out.append(Clip(n, frames))
    return out


def _layout_of(root):
    if os.path.isdir(os.path.join(root, "train_sharp")):
        return "reds"
    if os.path.isdir(os.path.join(root, "sequences")):
        return "vimeo"
    hr_name = _hr_name(root)
    if hr_name is not None and _subdirs(os.path.join(root, hr_name)):
        return "pairs"
    if any(_hr_name(os.path.join(root, n)) for n in _subdirs(root)):
        return "clip-pairs"
    return "clips"


def detect(root, protocol="BD", scale=4, *, clips=None, lr="auto", lr_folder=None):
    """Find the clips of a test set folder and where their LR frames come from.

    Parameters
    ----------
    root : str
        The set's folder (e.g. ``Vid4/``, ``REDS/``, ``vimeo_septuplet/``).
    protocol : {"BD", "BI"}
        The degradation asked for: LR folders of another degradation are not used.
    scale : int
        Upscaling factor (LR folders are named for it: ``BDx4``, ``X4``).
    clips : list of str or "all", optional
        Clips to keep (default: all; REDS: REDS4's four).
    lr : {"auto", "generate"}
        ``"auto"``: use the set's LR frames of this protocol when present, else make
        them; ``"generate"``: always make them from HR.
    lr_folder : str, optional
        Name of the LR folder to use (e.g. SPMCS's ``input4``), taken to be of
        ``protocol``.

    Returns
    -------
    Dataset

    Raises
    ------
    ValueError
        Unknown protocol or ``lr``, a missing folder, no frames, or HR and LR frame
        counts that differ.
    """
    if protocol not in ("BD", "BI"):
        raise ValueError(f"protocol must be 'BD' or 'BI', got {protocol!r}")
    if lr not in ("auto", "generate"):
        raise ValueError(f"lr must be 'auto' or 'generate', got {lr!r}")
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise ValueError(f"{root}: no such folder")
    layout = _layout_of(root)
    notes = []
    if layout == "reds":
        found, source = _reds(root, protocol, scale, clips)
    elif layout == "vimeo":
        found, source = _vimeo(root, protocol, scale, clips, lr_folder)
    elif layout == "pairs":
        found, source = _pairs(root, protocol, scale, clips, lr_folder)
    elif layout == "clip-pairs":
        found, source = _clip_pairs(root, protocol, scale, clips, lr_folder)
    else:
        found, source = _clips(root, clips), "generated"
    if not found or any(not c.hr for c in found):
        empty = [c.name for c in found if not c.hr]
        raise ValueError(f"{root}: no frames found ({layout} layout"
                         + (f"; empty clips: {', '.join(empty)}" if empty else "") + ")")
    if lr == "generate" and source != "generated":
        notes.append(f"LR frames in {source} ignored (--lr generate)")
        for c in found:
            c.lr = None
        source = "generated"
    if source == "generated":
        parent = root if layout != "clip-pairs" else os.path.join(root, found[0].name)
        others = _other_lr(parent, scale)
        if others and lr == "auto":
            notes.append(f"LR folders {', '.join(others)} are not {protocol}x{scale}: LR "
                         f"made from HR by the {protocol} protocol")
        else:
            notes.append(f"LR made from HR by the {protocol} protocol")
    else:
        notes.append(f"LR frames read from {source} (shipped with the set, taken to be "
                     f"{protocol}x{scale})")
    return Dataset(root, layout, found, source, notes)
