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
# Test fixture shaped like tensorflow/lite/CMakeLists.txt: the Python wrapper part and, verbatim,
# every upstream line our patches touch or use as context.
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
list(APPEND CMAKE_MODULE_PATH "${TFLITE_SOURCE_DIR}/tools/cmake/modules")
option(TFLITE_ENABLE_XNNPACK "Enable XNNPACK backend" ON)
set(TFLITE_TARGET_PUBLIC_OPTIONS "")
set(TFLITE_TARGET_PRIVATE_OPTIONS "")

# Stands in for the flatc host tool that the script builds first, and for the TFLite library.
add_custom_target(flatbuffers-flatc COMMAND ${CMAKE_COMMAND} -E echo "flatc stand-in")
add_library(tensorflow-lite INTERFACE)

if(NOT TFLITE_ENABLE_NNAPI)
  set(TFLITE_NNAPI_SRCS
    "${TFLITE_SOURCE_DIR}/nnapi/nnapi_implementation_disabled.cc"
  )
endif()
if(TFLITE_ENABLE_XNNPACK)
  find_package(fp16_headers REQUIRED)
  find_package(XNNPACK REQUIRED)
  set(XNNPACK_NEON_2_SSE "")
  if (NOT CMAKE_SYSTEM_PROCESSOR OR CMAKE_SYSTEM_PROCESSOR MATCHES "x86")
    # fixture: no NEON_2_SSE needed
  endif()
  add_library(xnnpack-delegate STATIC EXCLUDE_FROM_ALL
    "${TFLITE_SOURCE_DIR}/delegates/xnnpack/xnnpack_delegate.cc"
  )
  list(APPEND TFLITE_TARGET_PUBLIC_OPTIONS "-DTFLITE_BUILD_WITH_XNNPACK_DELEGATE")
endif()

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

target_link_libraries(_pywrap_tensorflow_interpreter_wrapper
  tensorflow-lite
  ${CMAKE_DL_LIBS}
)
target_compile_options(_pywrap_tensorflow_interpreter_wrapper
  PUBLIC ${TFLITE_TARGET_PUBLIC_OPTIONS}
  PRIVATE ${TFLITE_TARGET_PRIVATE_OPTIONS}
)

target_compile_options(xnnpack-delegate
  PUBLIC ${TFLITE_TARGET_PUBLIC_OPTIONS}
  PRIVATE ${TFLITE_TARGET_PRIVATE_OPTIONS}
)"""  # as upstream, no newline at the end

# The module: answer() proves it imports; xnnpack() and selected_ops() report how it was built
# (selected_ops() runs the generated resolver against the stand-in MutableOpResolver below).
_MODULE = """\
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#ifdef TFLITE_EDGE_SELECTED_OPS
#include "tensorflow/lite/mutable_op_resolver.h"
namespace tflite {
namespace interpreter_wrapper {
std::unique_ptr<tflite::MutableOpResolver> MakeSelectedOpResolver(bool default_delegates);
}  // namespace interpreter_wrapper
}  // namespace tflite
#endif

PYBIND11_MODULE(_pywrap_tensorflow_interpreter_wrapper, m) {
  m.def("answer", []() { return 42; });
  m.def("xnnpack", []() {
#ifdef TFLITE_BUILD_WITH_XNNPACK_DELEGATE
    return true;
#else
    return false;
#endif
  });
  m.def("selected_ops", []() {
    std::vector<std::string> ops;
#ifdef TFLITE_EDGE_SELECTED_OPS
    auto resolver = tflite::interpreter_wrapper::MakeSelectedOpResolver(true);
    ops = resolver->registered;
    ops.push_back("delegates:" + std::to_string(resolver->delegate_count()));
#endif
    return ops;
  });
}
"""

# The lines of interpreter_wrapper.cc that patches 0007/0008 touch or use as context, verbatim.
# Not compiled by the fixture (its resolver code needs all of TFLite).
_WRAPPER = """\
  ::tflite::python::ImportNumpy();

  TfLiteDelegate* xnnpack_delegate = nullptr;
  if (default_delegate_latest_features) {
    auto opts = TfLiteXNNPackDelegateOptionsDefault();
    opts.flags |= TFLITE_XNNPACK_DELEGATE_FLAG_ENABLE_LATEST_OPERATORS;
    opts.flags |= TFLITE_XNNPACK_DELEGATE_FLAG_ENABLE_SUBGRAPH_RESHAPING;
    opts.num_threads = num_threads;
    xnnpack_delegate = TfLiteXNNPackDelegateCreate(&opts);
  }
  std::unique_ptr<Interpreter> interpreter;
  InterpreterOptions options;
  options.SetPreserveAllTensors(preserve_all_tensors);

static constexpr int kBuiltinOpResolver = 1;
static constexpr int kBuiltinRefOpResolver = 2;
static constexpr int kBuiltinOpResolverWithoutDefaultDelegates = 3;

InterpreterWrapper* InterpreterWrapper::CreateInterpreterWrapper(
    std::unique_ptr<InterpreterWrapper::Model> model, int op_resolver_id,
    std::unique_ptr<PythonErrorReporter> error_reporter,
    const std::vector<std::string>& registerers_by_name,
    const std::vector<std::function<void(uintptr_t)>>& registerers_by_func,
    std::string* error_msg, bool preserve_all_tensors,
    bool disable_delegate_clustering, int num_threads,
    bool default_delegate_latest_features) {
  if (!model) {
    *error_msg = error_reporter->message();
    return nullptr;
  }

  std::unique_ptr<tflite::MutableOpResolver> resolver;
  if (default_delegate_latest_features) {
    resolver = std::make_unique<
        tflite::ops::builtin::BuiltinOpResolverWithoutDefaultDelegates>();
  } else {
    switch (op_resolver_id) {
      case kBuiltinOpResolver:
        resolver = std::make_unique<tflite::ops::builtin::BuiltinOpResolver>();
        break;
      case kBuiltinRefOpResolver:
        resolver =
            std::make_unique<tflite::ops::builtin::BuiltinRefOpResolver>();
        break;
      case kBuiltinOpResolverWithoutDefaultDelegates:
        resolver = std::make_unique<
            tflite::ops::builtin::BuiltinOpResolverWithoutDefaultDelegates>();
        break;
      default:
        // This should not never happen because the eventual caller in
        // interpreter.py should have passed a valid id here.
        TFLITE_DCHECK(false);
        return nullptr;
    }
  }

  for (const auto& registerer : registerers_by_name) {
    if (!RegisterCustomOpByName(registerer.c_str(), resolver.get(), error_msg))
      return nullptr;
  }
"""

# Operators the fixture's register.cc registers, with upstream's (2.21) version ranges: every
# operator of the smoke models, and two more.
OPERATORS = {
    "ABS": (1, 5), "ADD": (1, 5), "AVERAGE_POOL_2D": (1, 3), "CONCATENATION": (1, 4),
    "CONV_2D": (1, 8), "DEPTHWISE_CONV_2D": (1, 7), "DEQUANTIZE": (1, 6),
    "FULLY_CONNECTED": (1, 13), "GATHER": (1, 7), "LESS": (1, 3), "LOGISTIC": (1, 3),
    "MAX_POOL_2D": (1, 3), "MUL": (1, 7), "RESHAPE": (1, 1), "RESIZE_BILINEAR": (1, 4),
    "SLICE": (1, 6), "SOFTMAX": (1, 3), "SPLIT": (1, 4), "SUB": (1, 5), "TANH": (1, 3),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": (1, 4), "WHILE": (1, 1),
}  # fmt: skip
CUSTOM = {"Mfcc": "Register_MFCC", "AudioSpectrogram": "Register_AUDIO_SPECTROGRAM"}


def _add_builtin(name: str, low: int, high: int) -> str:
    """An AddBuiltin statement as upstream writes it (with or without the version range)."""
    if (low, high) == (1, 1):
        return f"  AddBuiltin(BuiltinOperator_{name}, Register_{name}());"
    return (
        f"  AddBuiltin(BuiltinOperator_{name}, Register_{name}(), /* min_version = */ {low},\n"
        f"             /* max_version = */ {high});"
    )


def _register_cc() -> str:
    declarations = "\n".join(f"TfLiteRegistration* {f}();" for f in CUSTOM.values())
    builtins = "\n".join(_add_builtin(n, *span) for n, span in OPERATORS.items())
    customs = "\n".join(
        f'  AddCustom("{name}", tflite::ops::custom::{f}());' for name, f in CUSTOM.items()
    )
    return (
        "// Fixture shaped like tensorflow/lite/core/kernels/register.cc.\n"
        "namespace tflite {\nnamespace ops {\nnamespace custom {\n"
        f"{declarations}\n}}  // namespace custom\nnamespace builtin {{\n\n"
        f"BuiltinOpResolver::BuiltinOpResolver() {{\n{builtins}\n{customs}\n"
        "  delegate_creators_.push_back([](TfLiteContext* context) {\n"
        "    return tflite::MaybeCreateXNNPACKDelegate(context,\n"
        "                                              XNNPackQS8Options::default_value);\n"
        "  });\n}\n\n}  // namespace builtin\n}  // namespace ops\n}  // namespace tflite\n"
    )


# Stand-ins for the TFLite headers the generated resolver includes: just enough to compile it
# and record what it registers.
_MUTABLE_OP_RESOLVER_H = """\
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "tensorflow/lite/schema/schema_generated.h"
#include "tensorflow/lite/tflite_with_xnnpack_optional.h"

struct TfLiteRegistration;
namespace tflite {
// Stand-in: records every registration as NAME:min-max.
class MutableOpResolver {
 public:
  virtual ~MutableOpResolver() = default;
  void AddBuiltin(BuiltinOperator op, const TfLiteRegistration*, int min_version = 1,
                  int max_version = 1) {
    registered.push_back(std::string(EnumNameBuiltinOperator(op)) + ":" +
                         std::to_string(min_version) + "-" + std::to_string(max_version));
  }
  void AddCustom(const char* name, const TfLiteRegistration*, int = 1, int = 1) {
    registered.push_back(std::string(name) + ":custom");
  }
  int delegate_count() const { return static_cast<int>(delegate_creators_.size()); }
  std::vector<std::string> registered;

 protected:
  bool may_directly_contain_user_defined_ops_ = false;
  std::vector<std::function<TfLiteDelegatePtr(TfLiteContext*)>> delegate_creators_;
};
}  // namespace tflite
"""

_XNNPACK_OPTIONAL_H = """\
#pragma once
#include <memory>
struct TfLiteContext;
struct TfLiteDelegate;
namespace tflite {
using TfLiteDelegatePtr = std::unique_ptr<TfLiteDelegate, void (*)(TfLiteDelegate*)>;
enum class XNNPackQS8Options { default_value, enabled, disabled };
inline TfLiteDelegatePtr MaybeCreateXNNPACKDelegate(TfLiteContext*, XNNPackQS8Options) {
  return TfLiteDelegatePtr(nullptr, [](TfLiteDelegate*) {});
}
}  // namespace tflite
"""


def _stub_headers() -> dict[str, str]:
    """Stand-ins for the TFLite headers the generated resolver includes: just enough to compile
    it and record what it registers."""
    names = list(OPERATORS)
    enum = ", ".join(f"BuiltinOperator_{n} = {i}" for i, n in enumerate(names))
    cases = " ".join(f'case BuiltinOperator_{n}: return "{n}";' for n in names)
    builtin = [f"inline TfLiteRegistration* Register_{n}() {{ return nullptr; }}" for n in names]
    custom = [f"inline TfLiteRegistration* {f}() {{ return nullptr; }}" for f in CUSTOM.values()]
    schema = [
        "#pragma once",
        "namespace tflite {",
        f"enum BuiltinOperator {{ {enum} }};",
        "inline const char* EnumNameBuiltinOperator(BuiltinOperator op) {",
        f"  switch (op) {{ {cases} }}",
        '  return "?";',
        "}",
        "}  // namespace tflite",
    ]
    kernels = [
        "#pragma once",
        "struct TfLiteRegistration;",
        "namespace tflite {",
        "namespace ops {",
        "namespace builtin {",
        *builtin,
        "}  // namespace builtin",
        "namespace custom {",
        *custom,
        "}  // namespace custom",
        "}  // namespace ops",
        "}  // namespace tflite",
    ]
    return {
        "tensorflow/lite/schema/schema_generated.h": "\n".join(schema) + "\n",
        "tensorflow/lite/core/kernels/builtin_op_kernels.h": "\n".join(kernels) + "\n",
        "tensorflow/lite/tflite_with_xnnpack_optional.h": _XNNPACK_OPTIONAL_H,
        "tensorflow/lite/mutable_op_resolver.h": _MUTABLE_OP_RESOLVER_H,
    }


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
        "tensorflow/lite/python/interpreter_wrapper/interpreter_wrapper.cc": _WRAPPER,
        "tensorflow/lite/core/kernels/register.cc": _register_cc(),
        "tensorflow/lite/delegates/xnnpack/xnnpack_delegate.cc": "int xnnpack_stand_in;\n",
        "tensorflow/lite/tools/cmake/modules/Findfp16_headers.cmake": "# fixture\n",
        "tensorflow/lite/tools/cmake/modules/FindXNNPACK.cmake": "# fixture\n",
        **_stub_headers(),
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
