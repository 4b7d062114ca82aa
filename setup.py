"""cifasr: CIF-based speech recognition with hierarchical distillation from pre-trained LMs."""

from pathlib import Path

from setuptools import find_packages, setup

version = {}
exec((Path(__file__).parent / "cifasr" / "version.py").read_text(), version)

# torch is deliberately unpinned above its floor: tools/setup.sh installs the CPU (or an existing
# CUDA) build first and then installs this package under a constraint that keeps that build.
install_requires = [
    "torch>=2.1",
    "numpy>=1.23",
    "kaldiio>=2.18",
    "kaldi-native-fbank>=1.18",
    "soundfile>=0.12",
    "sentencepiece>=0.1.99",
    "transformers>=4.36",
    "pyyaml>=6.0",
    "typeguard>=4.0",
    "humanfriendly>=10.0",
]
extras_require = {
    # Never installed by tools/setup.sh: the registry's torchaudio builds do not load with the
    # pinned CPU torch, and an installed torchaudio that does not load breaks
    # `import transformers` (the PLM teacher). Features come from kaldi-native-fbank instead.
    "torchaudio": ["torchaudio"],
    "tensorboard": ["tensorboard"],
    "plot": ["matplotlib>=3.5"],
    # ruff pinned: the test command checks formatting, which may change between ruff releases
    "test": ["pytest>=7", "ruff==0.17.6"],
    # ONNX export (cifasr.bin.export_onnx) and the onnxruntime decoding backend; the int8
    # quantisation is onnxruntime.quantization, which needs onnx.
    "onnx": ["onnx>=1.15", "onnxruntime>=1.17"],
}
extras_require["all"] = (
    extras_require["tensorboard"] + extras_require["plot"] + extras_require["onnx"]
)

setup(
    name="cifasr",
    version=version["__version__"],
    description=(
        "CIF-based ASR with hierarchical knowledge distillation from pre-trained language models"
    ),
    long_description=(Path(__file__).parent / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["cifasr", "cifasr.*"]),
    install_requires=install_requires,
    extras_require=extras_require,
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
