// SPDX-License-Identifier: Apache-2.0
#pragma once
// The engine's log sink pointed at a Python callable `fn(level, message)` (the package passes one
// that logs to logging.getLogger("dsstne")). Messages may come from threads without the GIL.
#include <Python.h>

#include <memory>
#include <string>

#include "dsstne/log.hpp"

namespace dsstne::python {

inline void set_python_log_sink(PyObject* fn) {
  if (fn == Py_None) {
    set_log_sink({});
    return;
  }
  Py_INCREF(fn);  // released with the last copy of the sink, while Python still runs
  std::shared_ptr<PyObject> target(fn, [](PyObject* o) {
    if (!Py_IsInitialized()) return;
    PyGILState_STATE state = PyGILState_Ensure();
    Py_DECREF(o);
    PyGILState_Release(state);
  });
  set_log_sink([target](LogLevel level, const std::string& message) {
    if (!Py_IsInitialized()) return;
    PyGILState_STATE state = PyGILState_Ensure();
    PyObject* text = PyUnicode_DecodeUTF8(message.data(), Py_ssize_t(message.size()), "replace");
    PyObject* result =
        text ? PyObject_CallFunction(target.get(), "(iO)", static_cast<int>(level), text) : nullptr;
    if (result == nullptr) {
      // Python ran the Ctrl-C handler inside the logging call: hand the interrupt back to the
      // training loop's signal check instead of losing it. Other failures lose the message only.
      const bool interrupted = PyErr_ExceptionMatches(PyExc_KeyboardInterrupt) != 0;
      PyErr_Clear();
      if (interrupted) PyErr_SetInterrupt();
    }
    Py_XDECREF(result);
    Py_XDECREF(text);
    PyGILState_Release(state);
  });
}

}  // namespace dsstne::python
