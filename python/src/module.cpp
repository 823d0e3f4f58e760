// The lumac Python module (_lumac, wrapped by python/lumac/__init__.py): an equal client of the
// library beside the CLI (shared/DESIGN.md), with the same numbers and the same errors.
#include <pybind11/pybind11.h>

#include <cmath>
#include <csignal>
#include <string>

#include "lumac/core/error.hpp"
#include "lumac/core/interrupt.hpp"
#include "python/src/bind_common.hpp"

namespace lumac::python {

namespace {

// A Python exception raised by a progress callback while the library ran (GIL held to touch it).
std::exception_ptr& pending_callback_error() {
  static std::exception_ptr error;
  return error;
}

extern "C" void on_interrupt_signal(int) {
  request_stop();
}

bool on_main_thread() {
  const py::module_ threading = py::module_::import("threading");
  return threading.attr("current_thread")().is(threading.attr("main_thread")());
}

}  // namespace

py::object to_python(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null:
      return py::none();
    case Json::value_t::boolean:
      return py::bool_(j.get<bool>());
    case Json::value_t::number_integer:
      return py::int_(j.get<std::int64_t>());
    case Json::value_t::number_unsigned:
      return py::int_(j.get<std::uint64_t>());
    case Json::value_t::number_float: {
      // As the CLI's JSON writes them (core/json.cpp): non-finite numbers as strings.
      const double v = j.get<double>();
      if (std::isnan(v)) return py::str("nan");
      if (std::isinf(v)) return py::str(v > 0 ? "inf" : "-inf");
      return py::float_(v);
    }
    case Json::value_t::string:
      return py::str(j.get<std::string>());
    case Json::value_t::array: {
      py::list out;
      for (const auto& v : j) out.append(to_python(v));
      return out;
    }
    case Json::value_t::object: {
      py::dict out;
      for (const auto& [key, v] : j.items()) out[py::str(key)] = to_python(v);
      return out;
    }
    default:
      return py::none();
  }
}

void run_released(const std::function<void()>& work) {
  const bool main = on_main_thread();
  clear_stop();
  pending_callback_error() = nullptr;
  struct sigaction previous {};
  if (main) {
    struct sigaction sa {};
    sa.sa_handler = on_interrupt_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &previous);
  }
  std::exception_ptr error;
  {
    py::gil_scoped_release release;
    try {
      work();
    } catch (...) {
      error = std::current_exception();
    }
  }
  if (main) sigaction(SIGINT, &previous, nullptr);
  const bool stopped = stop_requested();
  clear_stop();
  if (std::exception_ptr callback = pending_callback_error()) {
    pending_callback_error() = nullptr;
    std::rethrow_exception(callback);
  }
  if (error) std::rethrow_exception(error);
  // Ctrl-C after the last point where the library looks: the user still asked to stop.
  if (stopped) throw Interrupted("interrupted");
}

std::function<void(std::int64_t, std::int64_t)> progress_callback(const py::object& callback) {
  if (callback.is_none()) return {};
  auto holder = std::make_shared<py::object>(callback);
  return [holder](std::int64_t done, std::int64_t total) {
    py::gil_scoped_acquire gil;
    if (pending_callback_error()) return;
    try {
      (*holder)(done, total);
    } catch (py::error_already_set&) {
      pending_callback_error() = std::current_exception();
      request_stop();
    }
  };
}

}  // namespace lumac::python

PYBIND11_MODULE(_lumac, m) {
  namespace lp = lumac::python;
  m.doc() =
      "lumac's native module: the photonic hardware co-simulator's library (import lumac, not "
      "this module).";
  m.attr("__version__") = LUMAC_VERSION;
  // Bad input raises ValueError (OSError for files) with the CLI's one-line message; a stop on
  // Ctrl-C raises KeyboardInterrupt.
  pybind11::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const lumac::Interrupted& e) {
      PyErr_SetString(PyExc_KeyboardInterrupt, e.what());
    } catch (const lumac::FileError& e) {
      // The library's message names the CLI's flag; the Python keyword is force=True.
      std::string text = e.what();
      const std::string flag = "pass --force", keyword = "pass force=True";
      if (const auto at = text.find(flag); at != std::string::npos)
        text.replace(at, flag.size(), keyword);
      PyErr_SetString(PyExc_OSError, text.c_str());
    } catch (const lumac::Error& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
  lp::bind_config(m);
  lp::bind_circuit(m);
  lp::bind_models(m);
  lp::bind_studies(m);
}
