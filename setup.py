"""Archai: a modular neural-architecture-search library in PyTorch."""

from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).parent
# confs/ ships inside the package as archai.confs (read with importlib.resources), so a wheel
# install finds its configs wherever it is installed
conf_files = sorted(str(p.relative_to(here / "confs")) for p in (here / "confs").rglob("*.yaml"))

setup(
    name="archai",
    version="0.1.0",
    description="Modular neural architecture search: DARTS, ENAS, Petridish, evolution, random, Pareto fronts",
    long_description=(here / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=[*find_packages(include=["archai", "archai.*"]), "archai.confs"],
    package_dir={"archai.confs": "confs"},
    package_data={
        "archai.datasets": ["data/*.npz", "data/*.txt"],
        "archai.search": ["tables/*.npz"],
        "archai.confs": conf_files,
    },
    install_requires=[
        "torch>=2.2",
        "torchvision>=0.17",
        "numpy>=1.24",
        "pyyaml>=6.0",
        "tensorboard>=2.14",
        "tqdm>=4.66",
        "matplotlib>=3.7",
        "scipy>=1.10",
    ],
    extras_require={
        "ray": ["ray[default]>=2.9"],
        # ONNX export (torch's exporter needs onnxscript) and ONNX Runtime latency
        "onnx": ["onnx>=1.16", "onnxscript>=0.2", "onnxruntime>=1.18"],
        "dev": [
            "pytest>=8",
            "pytest-timeout>=2.3",
            "ruff>=0.5",
            "ray[default]>=2.9",
            "onnx>=1.16",
            "onnxscript>=0.2",
            "onnxruntime>=1.18",
        ],
    },
    classifiers=[
        "License :: OSI Approved :: MIT License",
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
