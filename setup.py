"""d2lnets: the batch-norm / ResNet / DenseNet chapter of Dive into Deep Learning, as a package."""
import runpy
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
# the CUDA builds of MXNet, from the one list (a plain file: d2lnets itself needs MXNet)
CUDA_BUILDS = runpy.run_path(str(HERE / "d2lnets" / "builds.py"))["CUDA_BUILDS"]

setup(
    name="d2lnets",
    version="0.2.0",
    description="Batch normalization, ResNet and DenseNet from Dive into Deep Learning "
                "(MXNet/Gluon), fast, offline and tested",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9,<3.12",
    packages=find_packages(include=["d2lnets", "d2lnets.*"]),
    package_data={"d2lnets": ["sample/*.npz", "sample/README.md"]},
    # No MXNet here: requiring the CPU `mxnet` would make pip install it beside a
    # reader's `mxnet-cu112` and overwrite that build's files (GluonCV's and d2lzh's
    # convention). `make setup` picks the build (d2lnets/builds.py); or pip install
    # "d2lnets[cpu]" / "d2lnets[cu112]" ...
    install_requires=[
        # mxnet 1.9.1 uses np.bool, removed in numpy 1.24
        "numpy>=1.21,<1.24",
        # matplotlib 3.10 needs numpy 2
        "matplotlib>=3.5,<3.10",
        "tqdm>=4.60",
    ],
    extras_require={
        "cpu": ["mxnet==1.9.1"],
        **{f"cu{v}": [f"mxnet-cu{v}==1.9.1"] for v in CUDA_BUILDS},
        "test": ["pytest>=7", "hypothesis>=6", "ruff>=0.5", "nbclient>=0.7", "nbformat>=5",
                 "ipykernel>=6", "nbmake>=1.4"],
        "export": ["onnx>=1.12,<=1.18", "onnxruntime>=1.15", "protobuf<5"],
        "bench": ["torch==2.13.0"],
    },
    entry_points={"console_scripts": ["d2lnets=d2lnets.cli:main"]},
    classifiers=[
        "License :: OSI Approved :: Apache Software License",
        "Programming Language :: Python :: 3.11",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
