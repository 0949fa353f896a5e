// SPDX-License-Identifier: Apache-2.0
#pragma once
// Translates dsstne's C++ exceptions into Python exceptions (Cython `except +handler`), and
// bridges Ctrl-C into the training loop.
#include <Python.h>

#include <new>
#include <stdexcept>

#include "dsstne/error.hpp"

namespace dsstne::python {

// dsstne.DsstneError, dsstne.CudaError and dsstne.NumericalError, registered at import.
inline PyObject* g_dsstne_error = nullptr;
inline PyObject* g_cuda_error = nullptr;
inline PyObject* g_numerical_error = nullptr;

inline void register_errors(PyObject* base, PyObject* cuda, PyObject* numerical) {
  Py_XINCREF(base);
  Py_XINCREF(cuda);
  Py_XINCREF(numerical);
  g_dsstne_error = base;
  g_cuda_error = cuda;
  g_numerical_error = numerical;
}

inline void translate_exception() {
  try {
    throw;
  } catch (const dsstne::Interrupted& e) {
    PyErr_SetString(PyExc_KeyboardInterrupt, e.what());
  } catch (const dsstne::NotSupported& e) {
    PyErr_SetString(PyExc_NotImplementedError, e.what());
  } catch (const dsstne::CudaError& e) {
    PyErr_SetString(g_cuda_error ? g_cuda_error : PyExc_RuntimeError, e.what());
  } catch (const dsstne::NumericalError& e) {
    PyErr_SetString(g_numerical_error ? g_numerical_error : PyExc_ArithmeticError, e.what());
  } catch (const std::out_of_range& e) {
    PyErr_SetString(PyExc_IndexError, e.what());
  } catch (const std::invalid_argument& e) {
    PyErr_SetString(PyExc_ValueError, e.what());
  } catch (const std::bad_alloc& e) {
    PyErr_SetString(PyExc_MemoryError, e.what());
  } catch (const std::exception& e) {
    PyErr_SetString(g_dsstne_error ? g_dsstne_error : PyExc_RuntimeError, e.what());
  } catch (...) {
    PyErr_SetString(g_dsstne_error ? g_dsstne_error : PyExc_RuntimeError,
                    "unknown C++ exception in dsstne");
  }
}

// Called between batches without the GIL: true when Python has a pending signal (Ctrl-C).
inline bool signal_pending() {
  PyGILState_STATE state = PyGILState_Ensure();
  const bool pending = PyErr_CheckSignals() != 0;
  if (pending) PyErr_Clear();  // re-raised as KeyboardInterrupt by translate_exception
  PyGILState_Release(state);
  return pending;
}

}  // namespace dsstne::python
