# SPDX-License-Identifier: Apache-2.0
# Writes the dsstne::cuda kernels of a build without CUDA from kernels.inc, so the stubs can
# never miss or misspell a kernel. Each stub runs the kernel's argument checks (a bad call raises
# what the real kernel would) and then raises NotSupported with the one "no CUDA backend" message.
#   cmake -DKERNELS=cpp/include/dsstne/kernels.inc -DOUTPUT=stubs.cpp -P cmake/cuda_stubs.cmake
cmake_minimum_required(VERSION 3.24)

file(READ "${KERNELS}" text)
string(REGEX REPLACE "//[^\n]*" "" text "${text}")  # comments, doc comments included
string(REGEX REPLACE "[ \t\r\n]+" " " text "${text}")
if(text MATCHES "[][{}#]")
  message(FATAL_ERROR "${KERNELS}: only kernel declarations and comments are allowed")
endif()

set(out "// Generated from cpp/include/dsstne/kernels.inc by cmake/cuda_stubs.cmake: do not edit.")
string(APPEND out "\n// The CUDA kernels of a build without CUDA: the real kernel's checks, then")
string(APPEND out " NotSupported.\n")
string(APPEND out "#include \"dsstne/cuda_runtime.hpp\"\n#include \"dsstne/kernels.hpp\"\n")
string(APPEND out "#include \"kernel_checks.hpp\"\n\nnamespace dsstne::cuda {\n")
set(count 0)
# A string with semicolons is a CMake list: one element per declaration.
foreach(decl IN LISTS text)
  string(STRIP "${decl}" decl)
  if(decl STREQUAL "")
    continue()
  endif()
  if(NOT decl MATCHES "^(void|double) ([a-z_0-9]+)\\((.*)\\)$")
    message(FATAL_ERROR "${KERNELS}: cannot read the declaration '${decl}'")
  endif()
  set(name "${CMAKE_MATCH_2}")
  set(params "${CMAKE_MATCH_3}")
  string(REPLACE "," ";" param_list "${params}")
  set(args "")
  foreach(param IN LISTS param_list)
    if(NOT param MATCHES "[^ ].*[ *&]([A-Za-z_][A-Za-z_0-9]*) *$")
      message(FATAL_ERROR "${KERNELS}: parameter '${param}' of ${name} has no name")
    endif()
    list(APPEND args "${CMAKE_MATCH_1}")
  endforeach()
  list(JOIN args ", " arg_text)
  string(APPEND out "\n${decl}")
  string(APPEND out " {\n  checks::${name}(${arg_text});\n")
  string(APPEND out "  no_cuda_backend(\"cuda::${name}\");\n}\n")
  math(EXPR count "${count} + 1")
endforeach()
string(APPEND out "\n}  // namespace dsstne::cuda\n")
if(count EQUAL 0)
  message(FATAL_ERROR "${KERNELS}: no kernel declarations found")
endif()

# Rewritten only when it changes, so an unrelated edit of kernels.inc's comments rebuilds nothing.
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
else()
  set(old "")
endif()
if(NOT old STREQUAL out)
  file(WRITE "${OUTPUT}" "${out}")
endif()
