#include "lumac/core/error.hpp"

#include <cmath>

namespace lumac {

void FieldCheck::reject(std::string_view name, double value, std::string_view rule) const {
  fail("{}.{} = {}: {}", section_, name, value, rule);
}

void FieldCheck::finite(std::string_view name, double value) const {
  if (!std::isfinite(value)) reject(name, value, "must be a finite number");
}

void FieldCheck::positive(std::string_view name, double value) const {
  if (!std::isfinite(value) || !(value > 0)) reject(name, value, "must be finite and > 0");
}

void FieldCheck::non_negative(std::string_view name, double value) const {
  if (!std::isfinite(value) || !(value >= 0)) reject(name, value, "must be finite and >= 0");
}

void FieldCheck::open_closed(std::string_view name, double value, double lo, double hi) const {
  if (!std::isfinite(value) || !(value > lo && value <= hi))
    reject(name, value, fmt::format("must be in ({}, {}]", lo, hi));
}

void FieldCheck::closed(std::string_view name, double value, double lo, double hi) const {
  if (!std::isfinite(value) || !(value >= lo && value <= hi))
    reject(name, value, fmt::format("must be in [{}, {}]", lo, hi));
}

void FieldCheck::open(std::string_view name, double value, double lo, double hi) const {
  if (!std::isfinite(value) || !(value > lo && value < hi))
    reject(name, value, fmt::format("must be in ({}, {})", lo, hi));
}

void FieldCheck::integer(std::string_view name, std::int64_t value, std::int64_t lo,
                         std::int64_t hi) const {
  if (value < lo || value > hi)
    fail("{}.{} = {}: must be an integer in [{}, {}]", section_, name, value, lo, hi);
}

}  // namespace lumac
