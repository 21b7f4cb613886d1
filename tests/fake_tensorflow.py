"""A miniature TensorFlow tree for the tflite-runtime build tests.

The pip script written here follows the official build_pip_package_with_cmake.sh flow (source
tree -> host tools -> cmake configure -> build -> copy module -> setup.py bdist_wheel) and
contains, verbatim, every line our patches touch or use as context, per TensorFlow version. Its
CMakeLists builds a tiny pybind11 module named _pywrap_tensorflow_interpreter_wrapper, so the
end-to-end test runs the patched script for real.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = "tensorflow/lite/tools/pip_package/build_pip_package_with_cmake.sh"
CMAKELISTS = "tensorflow/lite/CMakeLists.txt"

_VERSION_LINES = {
    "2.16.1": (
        'TENSORFLOW_VERSION=$(grep "_VERSION = " '
        '"${TENSORFLOW_DIR}/tensorflow/tools/pip_package/setup.py" '
        '| cut -d= -f2 | sed "s/[ \'-]//g")\n'
    ),
    "2.20.0": (
        'TENSORFLOW_VERSION=$(grep "TF_VERSION = " "${TENSORFLOW_DIR}/tensorflow/tf_version.bzl" '
        "| cut -d= -f2 | sed 's/[ \"-]//g')\n"
        "IFS='.' read -r -a array <<< \"$TENSORFLOW_VERSION\"\n"
        "TF_MAJOR=${array[0]}\n"
        "TF_MINOR=${array[1]}\n"
        "TF_PATCH=${array[2]}\n"
        'TF_CXX_FLAGS="-DTF_MAJOR_VERSION=${TF_MAJOR} -DTF_MINOR_VERSION=${TF_MINOR} '
        "-DTF_PATCH_VERSION=${TF_PATCH} -DTF_VERSION_SUFFIX=''\"\n"
    ),
}
_VERSION_LINES["2.21.0"] = _VERSION_LINES["2.20.0"]
_JOBS_LINE = {"2.16.1": "", "2.20.0": 'BUILD_NUM_JOBS="${BUILD_NUM_JOBS:-4}"\n'}
_JOBS_LINE["2.21.0"] = _JOBS_LINE["2.20.0"]
_CXX_FLAGS = {"2.16.1": "", "2.20.0": "${TF_CXX_FLAGS} ", "2.21.0": "${TF_CXX_FLAGS} "}

_SCRIPT = """\
#!/usr/bin/env bash
# Test fixture shaped like tensorflow/lite/tools/pip_package/build_pip_package_with_cmake.sh.
set -ex

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${CI_BUILD_PYTHON:-python3}"
VERSION_SUFFIX=${VERSION_SUFFIX:-}
export TENSORFLOW_DIR="${SCRIPT_DIR}/../../../.."
TENSORFLOW_LITE_DIR="${TENSORFLOW_DIR}/tensorflow/lite"
@VERSION@export PACKAGE_VERSION="${TENSORFLOW_VERSION}${VERSION_SUFFIX}"
export PROJECT_NAME=${WHEEL_PROJECT_NAME:-tflite_runtime}
BUILD_DIR="${SCRIPT_DIR}/gen/tflite_pip/${PYTHON}"
TENSORFLOW_TARGET=${TENSORFLOW_TARGET:-$1}
@JOBS@if [ "${TENSORFLOW_TARGET}" = "rpi" ]; then
  export TENSORFLOW_TARGET="armhf"
fi
PYTHON_INCLUDE=$(${PYTHON} -c "from sysconfig import get_paths as gp; print(gp()['include'])")
PYBIND11_INCLUDE=$(${PYTHON} -c "import pybind11; print (pybind11.get_include())")
NUMPY_INCLUDE=$(${PYTHON} -c "import numpy; print (numpy.get_include())")
export CROSSTOOL_PYTHON_INCLUDE_PATH=${PYTHON_INCLUDE}

# Build source tree.
rm -rf "${BUILD_DIR}" && mkdir -p "${BUILD_DIR}/tflite_runtime"
cp -r "${TENSORFLOW_LITE_DIR}/tools/pip_package/debian" \\
      "${TENSORFLOW_LITE_DIR}/tools/pip_package/MANIFEST.in" \\
      "${TENSORFLOW_LITE_DIR}/python/interpreter_wrapper" \\
      "${BUILD_DIR}"
cp  "${TENSORFLOW_LITE_DIR}/tools/pip_package/setup_with_binary.py" "${BUILD_DIR}/setup.py"
cp "${TENSORFLOW_LITE_DIR}/python/interpreter.py" \\
   "${TENSORFLOW_LITE_DIR}/python/metrics/metrics_interface.py" \\
   "${TENSORFLOW_LITE_DIR}/python/metrics/metrics_portable.py" \\
   "${BUILD_DIR}/tflite_runtime"
echo "__version__ = '${PACKAGE_VERSION}'" >> "${BUILD_DIR}/tflite_runtime/__init__.py"
echo "__git_version__ = '$(git -C "${TENSORFLOW_DIR}" describe)'" >> "${BUILD_DIR}/tflite_runtime/__init__.py"

# Build host tools
if [[ "${TENSORFLOW_TARGET}" != "native" ]]; then
  echo "Building for host tools."
  HOST_BUILD_DIR="${BUILD_DIR}/cmake_build_host"
  mkdir -p "${HOST_BUILD_DIR}"
  pushd "${HOST_BUILD_DIR}"
  cmake "${TENSORFLOW_LITE_DIR}"
  cmake --build . --verbose -j ${BUILD_NUM_JOBS} -t flatbuffers-flatc
  popd
fi

# Build python interpreter_wrapper.
mkdir -p "${BUILD_DIR}/cmake_build"
cd "${BUILD_DIR}/cmake_build"

echo "Building for ${TENSORFLOW_TARGET}"
case "${TENSORFLOW_TARGET}" in
  native)
    BUILD_FLAGS=${BUILD_FLAGS:-"-march=native @CXX@-I${PYTHON_INCLUDE} -I${PYBIND11_INCLUDE} -I${NUMPY_INCLUDE}"}
    cmake \\
      -DCMAKE_C_FLAGS="${BUILD_FLAGS}" \\
      -DCMAKE_CXX_FLAGS="${BUILD_FLAGS}" \\
      "${TENSORFLOW_LITE_DIR}"
    ;;
  *)
    BUILD_FLAGS=${BUILD_FLAGS:-"@CXX@-I${PYTHON_INCLUDE} -I${PYBIND11_INCLUDE} -I${NUMPY_INCLUDE}"}
    cmake \\
      -DCMAKE_C_FLAGS="${BUILD_FLAGS}" \\
      -DCMAKE_CXX_FLAGS="${BUILD_FLAGS}" \\
      "${TENSORFLOW_LITE_DIR}"
    ;;
esac

cmake --build . --verbose -j ${BUILD_NUM_JOBS} -t _pywrap_tensorflow_interpreter_wrapper
cd "${BUILD_DIR}"

case "${TENSORFLOW_TARGET}" in
  windows)
    LIBRARY_EXTENSION=".pyd"
    ;;
  *)
    LIBRARY_EXTENSION=".so"
    ;;
esac

cp "${BUILD_DIR}/cmake_build/_pywrap_tensorflow_interpreter_wrapper${LIBRARY_EXTENSION}" \\
   "${BUILD_DIR}/tflite_runtime"
# Bazel generates the wrapper library with r-x permissions for user.
# At least on Windows, we need write permissions to delete the file.
# Without this, setuptools fails to clean the build directory.
chmod u+w "${BUILD_DIR}/tflite_runtime/_pywrap_tensorflow_interpreter_wrapper${LIBRARY_EXTENSION}"

# Build python wheel.
cd "${BUILD_DIR}"
case "${TENSORFLOW_TARGET}" in
  *)
    if [[ -n "${WHEEL_PLATFORM_NAME}" ]]; then
      ${PYTHON} setup.py bdist --plat-name=${WHEEL_PLATFORM_NAME} \\
                         bdist_wheel --plat-name=${WHEEL_PLATFORM_NAME}
    else
      ${PYTHON} setup.py bdist bdist_wheel
    fi
    ;;
esac

echo "Output can be found here:"
find "${BUILD_DIR}/dist"
"""  # noqa: E501 - upstream's long lines, verbatim

_CMAKELISTS = """\
# Test fixture shaped like tensorflow/lite/CMakeLists.txt (only the Python wrapper part).
cmake_minimum_required(VERSION 3.16)
if(NOT CMAKE_BUILD_TYPE)
  set(CMAKE_BUILD_TYPE "Release")
endif()
project(tensorflow-lite C CXX)
set(CMAKE_CXX_STANDARD 17)
# As upstream (2.18 and later): without TENSORFLOW_SOURCE_DIR, TensorFlow itself is cloned into
# the build directory (offline: an error; online: another release's sources).
set(TENSORFLOW_SOURCE_DIR "" CACHE PATH "Directory that contains the TensorFlow project")
if(NOT TENSORFLOW_SOURCE_DIR)
  message(FATAL_ERROR "fixture: would clone TensorFlow v2.19.0 into tensorflow-src")
endif()
set(TFLITE_SOURCE_DIR "${CMAKE_CURRENT_LIST_DIR}")

# Stands in for the flatc host tool that the script builds first.
add_custom_target(flatbuffers-flatc COMMAND ${CMAKE_COMMAND} -E echo "flatc stand-in")

# Python interpreter wrapper.
add_library(_pywrap_tensorflow_interpreter_wrapper SHARED EXCLUDE_FROM_ALL
  ${TFLITE_SOURCE_DIR}/python/interpreter_wrapper/interpreter_wrapper_pybind11.cc
)

# To remove "lib" prefix.
set_target_properties(_pywrap_tensorflow_interpreter_wrapper PROPERTIES PREFIX "")

target_include_directories(_pywrap_tensorflow_interpreter_wrapper
  PUBLIC
    ${TENSORFLOW_SOURCE_DIR}
)
"""

_MODULE = """\
#include <pybind11/pybind11.h>

PYBIND11_MODULE(_pywrap_tensorflow_interpreter_wrapper, m) {
  m.def("answer", []() { return 42; });
}
"""

_SETUP = """\
import os

from setuptools import find_packages, setup

setup(
    name="tflite-runtime",
    version=os.environ["PACKAGE_VERSION"],
    packages=find_packages(),
    package_data={"": ["*.so", "*.pyd"]},
    has_ext_modules=lambda: True,
    install_requires=["numpy >= 1.23.2"],
)
"""


def script_text(version: str) -> str:
    return (
        _SCRIPT.replace("@VERSION@", _VERSION_LINES[version])
        .replace("@JOBS@", _JOBS_LINE[version])
        .replace("@CXX@", _CXX_FLAGS[version])
    )


def make_tree(root: Path, version: str) -> Path:
    """Write the miniature TensorFlow ``version`` tree below ``root`` and return ``root``."""
    files = {
        SCRIPT: script_text(version),
        CMAKELISTS: _CMAKELISTS,
        "tensorflow/lite/python/interpreter_wrapper/interpreter_wrapper_pybind11.cc": _MODULE,
        "tensorflow/lite/tools/pip_package/setup_with_binary.py": _SETUP,
        "tensorflow/lite/tools/pip_package/MANIFEST.in": "",
        "tensorflow/lite/tools/pip_package/debian/changelog": "",
        "tensorflow/lite/python/interpreter.py": "",
        "tensorflow/lite/python/metrics/metrics_interface.py": "",
        "tensorflow/lite/python/metrics/metrics_portable.py": "",
    }
    if version == "2.16.1":
        files["tensorflow/tools/pip_package/setup.py"] = f"_VERSION = '{version}'\n"
    else:
        files["tensorflow/tf_version.bzl"] = f'TF_VERSION = "{version}"\n'
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (root / SCRIPT).chmod(0o755)
    return root


def git(directory: Path, *args: str) -> str:
    """Run git in ``directory`` with a fixed identity and no user configuration."""
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    identity = ["-c", "user.name=fixture", "-c", "user.email=fixture@example.invalid"]
    done = subprocess.run(
        ["git", *identity, "-C", str(directory), *args],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return done.stdout.strip()


def commit_all(directory: Path, tag: str | None = None) -> str:
    """Make ``directory`` a git checkout of its files (one commit, optionally tagged)."""
    if not (directory / ".git").exists():
        git(directory, "init", "-q", "-b", "main")
    git(directory, "add", "-A")
    git(directory, "commit", "-q", "--no-gpg-sign", "--allow-empty", "-m", "fixture")
    if tag:
        git(directory, "tag", tag)
    return git(directory, "rev-parse", "HEAD")


def make_deps(deps: Path, tree: Path, fetchcontent: list[str], source_dirs: list[str]) -> dict:
    """One git checkout per dependency under ``deps``, each pinned by the tree's CMake files the
    way upstream pins them: ``GIT_TAG <commit>`` in tools/cmake/modules/<name>.cmake, or an
    archive URL of the commit in lite/cmake/Download<Name>.cmake. Returns name -> commit."""
    commits = {}
    for name in [*fetchcontent, *source_dirs]:
        folder = deps / name
        folder.mkdir(parents=True)
        (folder / "README").write_text(f"fixture dependency {name}\n")
        commits[name] = commit_all(folder)
    for name in fetchcontent:
        module = tree / "tensorflow/lite/tools/cmake/modules" / f"{name}.cmake"
        module.parent.mkdir(parents=True, exist_ok=True)
        module.write_text(
            f"OverridableFetchContent_Declare(\n  {name}\n  GIT_TAG {commits[name]}\n)\n"
        )
    for name in source_dirs:
        download = tree / "tensorflow/lite/cmake" / f"Download{name.upper()}.cmake"
        download.parent.mkdir(parents=True, exist_ok=True)
        url = f"https://github.com/example/{name}/archive/{commits[name]}.zip"
        download.write_text(f"ExternalProject_Add({name}\n  URL {url}\n)\n")
    return commits
