// SPDX-License-Identifier: Apache-2.0
#pragma once
// Translates dsstne's C++ exceptions into Python exceptions (Cython `except +handler`), and
// bridges Ctrl-C into the training loop.
#include <Python.h>

#include <cstring>
#include <new>
#include <stdexcept>

#include "dsstne/error.hpp"

namespace dsstne::python {

// dsstne.DsstneError, dsstne.CudaError and dsstne.NumericalError, registered at import.
inline PyObject* g_dsstne_error = nullptr;
inline PyObject* g_cuda_error = nullptr;
inline PyObject* g_numerical_error = nullptr;
inline PyObject* g_communication_error = nullptr;

inline void register_errors(PyObject* base, PyObject* cuda, PyObject* numerical,
                            PyObject* communication) {
  Py_XINCREF(base);
  Py_XINCREF(cuda);
  Py_XINCREF(numerical);
  Py_XINCREF(communication);
  g_dsstne_error = base;
  g_cuda_error = cuda;
  g_numerical_error = numerical;
  g_communication_error = communication;
}

/// Sets `type` with `message`; bytes that are not UTF-8 (a file's contents quoted in a parse
/// error) are replaced instead of turning the error into a UnicodeDecodeError.
inline void set_error(PyObject* type, const char* message) {
  PyObject* text = PyUnicode_DecodeUTF8(message, Py_ssize_t(std::strlen(message)), "replace");
  if (text == nullptr) return;  // the decode error (MemoryError) stands
  PyErr_SetObject(type, text);
  Py_DECREF(text);
}

inline void translate_exception() {
  PyObject* const base = g_dsstne_error ? g_dsstne_error : PyExc_RuntimeError;
  try {
    throw;
  } catch (const dsstne::Interrupted& e) {
    set_error(PyExc_KeyboardInterrupt, e.what());
  } catch (const dsstne::NotSupported& e) {
    set_error(PyExc_NotImplementedError, e.what());
  } catch (const dsstne::CudaError& e) {
    set_error(g_cuda_error ? g_cuda_error : PyExc_RuntimeError, e.what());
  } catch (const dsstne::CommunicationError& e) {
    set_error(g_communication_error ? g_communication_error : base, e.what());
  } catch (const dsstne::NumericalError& e) {
    set_error(g_numerical_error ? g_numerical_error : PyExc_ArithmeticError, e.what());
  } catch (const std::out_of_range& e) {
    set_error(PyExc_IndexError, e.what());
  } catch (const std::invalid_argument& e) {
    set_error(PyExc_ValueError, e.what());
  } catch (const std::bad_alloc& e) {
    set_error(PyExc_MemoryError, e.what());
  } catch (const std::exception& e) {
    set_error(base, e.what());
  } catch (...) {
    set_error(base, "unknown C++ exception in dsstne");
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
