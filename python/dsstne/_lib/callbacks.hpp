// SPDX-License-Identifier: Apache-2.0
#pragma once
// Python callables behind the C++ training callbacks. `errors` is a Python list: the Python
// wrapper appends any exception its epoch callback raised, which stops training at the next
// batch so the exception can be re-raised with nothing lost. `interrupted` is another list, which
// the Python side's SIGINT handler appends to for as long as training runs: a Ctrl-C whose
// KeyboardInterrupt Python dropped (raised inside a finalizer that the garbage collector ran
// during a callback, reported as unraisable) still stops training.
#include <Python.h>

#include <functional>

#include "dsstne/network.hpp"

namespace dsstne::python {

inline std::function<void(const EpochStats&)> epoch_callback(PyObject* fn) {
  if (fn == Py_None) return {};
  return [fn](const EpochStats& s) {
    PyGILState_STATE state = PyGILState_Ensure();
    PyObject* result = PyObject_CallFunction(fn, "(idddfd)", s.epoch, s.error, s.regularization,
                                             s.validation_error, s.alpha, s.seconds);
    if (result == nullptr) PyErr_Clear();  // the Python side records its own failures
    Py_XDECREF(result);
    PyGILState_Release(state);
  };
}

inline std::function<bool()> stop_check(PyObject* errors, PyObject* interrupted) {
  return [errors, interrupted]() {
    PyGILState_STATE state = PyGILState_Ensure();
    bool stop = PyErr_CheckSignals() != 0;
    if (stop) PyErr_Clear();  // re-raised as KeyboardInterrupt by translate_exception
    if (PyList_Size(errors) > 0 || PyList_Size(interrupted) > 0) stop = true;
    PyGILState_Release(state);
    return stop;
  };
}

// Network::train with a Python epoch callback and Ctrl-C/errors polling; call without the GIL.
inline std::vector<EpochStats> train_with_python(Network& net, int epochs,
                                                 const TrainParams& params,
                                                 const Bindings& validation, PyObject* on_epoch,
                                                 PyObject* errors, PyObject* interrupted) {
  return net.train(epochs, params, validation, epoch_callback(on_epoch),
                   stop_check(errors, interrupted));
}

}  // namespace dsstne::python
