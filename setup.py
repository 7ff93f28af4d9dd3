"""d2lnets: the batch-norm / ResNet / DenseNet chapter of Dive into Deep Learning, as a package."""
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).parent
#: read at every interpreter start, as setuptools' distutils-precedence.pth: MXNet 1.9.1 then
#: imports under numpy 2 whatever is imported first (see _d2lnets_numpy_compat.py)
PTH_NAME = "d2lnets-numpy-compat.pth"
PTH_LINE = "import _d2lnets_numpy_compat; _d2lnets_numpy_compat.install()\n"


class BuildWithPth(build_py):
    """Puts the .pth file at the top of the wheel, beside the packages. An editable wheel
    (``pip install -e``) is packed from the install command's folder instead of build_lib."""

    def run(self) -> None:
        super().run()
        root = (self.get_finalized_command("install").install_lib if self.editable_mode
                else self.build_lib)
        Path(root, PTH_NAME).write_text(PTH_LINE)


setup(
    name="d2lnets",
    version="0.2.0",
    description="Batch normalization, ResNet and DenseNet from Dive into Deep Learning "
                "(MXNet/Gluon), fast, offline and tested",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9",
    packages=find_packages(include=["d2lnets", "d2lnets.*"]),
    py_modules=["_d2lnets_numpy_compat"],
    cmdclass={"build_py": BuildWithPth},
    package_data={"d2lnets": ["sample/*.npz", "sample/README.md"]},
    # No MXNet here, and no extra that names it: MXNet 1.9.1's metadata asks for numpy<2,
    # so pip would replace a reader's numpy 2 (Colab's) or fail where numpy 1 has no wheel
    # (Python 3.13). It is installed with --no-deps (`make setup`, the README), and its own
    # other requirements are here. Requiring the CPU `mxnet` would also overwrite a
    # reader's `mxnet-cu112` (GluonCV's and d2lzh's convention).
    install_requires=[
        "numpy>=1.21",
        "matplotlib>=3.5",
        "tqdm>=4.60",
        "requests>=2.20,<3",
        # not graphviz: MXNet's metadata pins graphviz<0.9, but only mx.viz imports it;
        # requiring it would downgrade a reader's graphviz (`d2lnets doctor` says what to do)
        # MXNet imports distutils, which Python 3.12 removed: setuptools supplies it
        "setuptools>=61; python_version>='3.12'",
    ],
    extras_require={
        "test": ["pytest>=7", "hypothesis>=6", "ruff>=0.5", "nbclient>=0.7", "nbformat>=5",
                 "ipykernel>=6", "nbmake>=1.4",
                 # what the real d2l packages import, as references in tests/test_editions.py
                 "pandas>=1.3", "ipython>=7", "matplotlib-inline>=0.1"],
        "export": ["onnx>=1.12,<=1.18", "onnxruntime>=1.15", "protobuf<5"],
        "bench": ["torch==2.13.0"],
    },
    entry_points={"console_scripts": ["d2lnets=d2lnets.cli:main"]},
    classifiers=[
        "License :: OSI Approved :: Apache Software License",
        *(f"Programming Language :: Python :: 3.{m}" for m in range(9, 15)),
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
