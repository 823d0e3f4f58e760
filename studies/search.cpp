#include "lumac/studies/search.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "lumac/core/error.hpp"
#include "lumac/core/interrupt.hpp"
#include "lumac/nn/precision.hpp"

namespace lumac {

namespace {

struct Evaluated {
  SearchPoint point;
  NetworkEvaluation evaluation;
};

// The configuration with the key at `value` (lumac::Error if the value is not valid for it).
Settings at_value(const Settings& base, const std::string& key, double value, bool integer) {
  Settings s = base;
  set_key(
      s, key,
      ConfigValue::from_text(integer ? std::to_string(std::llround(value)) : format_real(value)));
  validate(s);
  return s;
}

// Integer keys: the least favourable value meeting the target, by doubling away from the
// configured value and bisecting to one step.
void integer_search(const std::function<bool(double)>& meets, double base, bool higher_better,
                    SearchResult& r) {
  const double limit = 1 << 20;
  auto better = [&](double v) { return higher_better ? v * 2 : std::max(1.0, std::floor(v / 2)); };
  auto worse = [&](double v) { return higher_better ? std::max(1.0, std::floor(v / 2)) : v * 2; };
  double good = 0, bad = 0;
  bool have_good = false, have_bad = false;
  double v = std::max(1.0, base);
  if (meets(v)) {
    good = v, have_good = true;
    for (double w = worse(v); w != good && w >= 1 && w <= limit; w = worse(good)) {
      if (!meets(w)) {
        bad = w, have_bad = true;
        break;
      }
      good = w;
    }
  } else {
    bad = v, have_bad = true;
    for (double w = better(v); w != bad && w >= 1 && w <= limit; w = better(bad)) {
      if (meets(w)) {
        good = w, have_good = true;
        break;
      }
      bad = w;
    }
  }
  while (have_good && have_bad && std::abs(good - bad) > 1) {
    const double mid = std::floor((good + bad) / 2);
    (meets(mid) ? good : bad) = mid;
  }
  r.reached = have_good;
  r.bracketed = have_bad;
  r.found.value = good;
  r.missed_value = bad;
}

}  // namespace

SearchResult run_search(const SearchSpec& spec, const Settings& settings) {
  if (!(spec.target_drop > 0) || !(spec.target_drop < 1))
    fail("target_drop = {}: must be in (0, 1) (accuracy points as a fraction)", spec.target_drop);
  if (spec.better != "higher" && spec.better != "lower")
    fail("better = '{}': must be higher or lower", spec.better);
  if (!(spec.tolerance_ratio > 1) || !(spec.tolerance_ratio <= 4))
    fail("tolerance_ratio = {}: must be in (1, 4]", spec.tolerance_ratio);
  check_seeds(spec.seeds);
  if (spec.hardware.noise == "none")
    fail(
        "noise none: the accuracy does not depend on any config key, so there is nothing to "
        "search (search under noise physical)");
  SearchResult r;
  r.key = spec.key;
  r.better = spec.better;
  r.seeds = spec.seeds;
  const KeyInfo* info = nullptr;
  const auto keys = list_keys(settings);
  std::vector<std::string> valid;
  for (const auto& k : keys) {
    valid.push_back(k.key);
    if (k.key == spec.key) info = &k;
  }
  if (!info)
    fail("unknown config key '{}' (did you mean '{}'?)", spec.key, nearest_key(spec.key, valid));
  if (info->kind != KeyKind::real && info->kind != KeyKind::integer)
    fail("key '{}' is not a number: only real and integer keys can be searched", spec.key);
  r.unit = info->unit;
  r.integer = info->kind == KeyKind::integer;
  const double base = std::stod(info->value);
  if (!(base > 0))
    fail("{} = {}: the search starts from its configured value, which must be > 0", spec.key, base);
  const bool higher_better = spec.better == "higher";
  if (spec.key == "laser.power_W" && spec.hardware.photons_per_mac)
    fail("photons_per_mac fixes laser.power_W, which the search varies: give one of them");
  if (spec.key == "system.repeats" &&
      (spec.hardware.repeats || !spec.hardware.repeats_per_layer.empty()))
    fail("repeats fixes system.repeats, which the search varies: give one of them");
  // Every value must be a valid configuration before the dataset is read.
  HardwareSpec hardware = spec.hardware;
  const LoadedNetwork net = load_network(spec.network, false, [&](const nn::Model& m) {
    Settings s = settings;
    resolve_hardware(hardware, m, s.circuit);
  });
  r.clean_accuracy = clean_accuracy(net);
  r.target_accuracy = r.clean_accuracy - spec.target_drop;
  if (r.target_accuracy <= 0)
    fail("target_drop = {}: the target accuracy {} is not positive", spec.target_drop,
         r.target_accuracy);
  std::vector<Evaluated> done;
  auto evaluate = [&](double value) -> double {
    for (const auto& e : done)
      if (e.point.value == value) return e.point.accuracy_mean;
    throw_if_stop_requested("search");
    Settings s;
    try {
      s = at_value(settings, spec.key, value, r.integer);
    } catch (const Error&) {
      return -std::numeric_limits<double>::infinity();  // outside the key's valid range
    }
    const HardwareOptions h = resolve_hardware(hardware, net.model, s.circuit);
    Evaluated e;
    e.evaluation = evaluate_on_hardware(net, s, h, spec.seed, spec.seeds);
    e.point = {value, e.evaluation.accuracy_mean, e.evaluation.accuracy_std};
    r.evaluations.push_back(e.point);
    done.push_back(std::move(e));
    return done.back().point.accuracy_mean;
  };
  if (r.integer) {
    integer_search([&](double v) { return evaluate(v) >= r.target_accuracy; }, base, higher_better,
                   r);
  } else {
    // Accuracy grows with s: the value is base s (higher is better) or base / s.
    auto value_of = [&](double s) { return higher_better ? base * s : base / s; };
    const nn::IsoAccuracy iso =
        nn::lowest_energy_scale([&](double s) { return evaluate(value_of(s)); }, r.target_accuracy,
                                1.0, spec.tolerance_ratio, 60);
    r.reached = iso.reached;
    r.found.value = value_of(iso.scale);
    // The bracket's other end: the nearest value tried that misses the target.
    for (const auto& p : r.evaluations)
      if (p.accuracy_mean < r.target_accuracy &&
          (!r.bracketed || std::abs(std::log(p.value / r.found.value)) <
                               std::abs(std::log(r.missed_value / r.found.value)))) {
        r.missed_value = p.value;
        r.bracketed = true;
      }
  }
  // No value met the target and the accuracy fell towards the "better" side: the direction is
  // probably the wrong one.
  if (!r.reached && r.evaluations.size() >= 2) {
    const auto [lo, hi] = std::minmax_element(
        r.evaluations.begin(), r.evaluations.end(),
        [](const SearchPoint& a, const SearchPoint& b) { return a.value < b.value; });
    const bool falls_with_value = hi->accuracy_mean < lo->accuracy_mean;
    if (falls_with_value == higher_better)
      r.hint = fmt::format("the accuracy {} as {} grows: try --better {}",
                           falls_with_value ? "falls" : "rises", spec.key,
                           higher_better ? "lower" : "higher");
  }
  if (r.reached) {
    evaluate(r.found.value);  // cached: the found value was evaluated
    for (const auto& e : done)
      if (e.point.value == r.found.value) {
        r.found = e.point;
        r.accuracy = e.evaluation.accuracy;
        r.energy = energy_figures(e.evaluation.energy.total);
      }
  }
  return r;
}

Json to_json(const SearchResult& r) {
  // Integer keys as integers.
  auto number = [&](double v) { return r.integer ? Json(std::llround(v)) : Json(v); };
  Json evaluations = Json::array();
  for (const auto& p : r.evaluations)
    evaluations.push_back(Json{{"value", number(p.value)},
                               {"accuracy_mean", p.accuracy_mean},
                               {"accuracy_std", p.accuracy_std}});
  Json j{{"key", r.key},
         {"unit", r.unit},
         {"better", r.better},
         {"clean_accuracy", r.clean_accuracy},
         {"target_accuracy", r.target_accuracy},
         {"seeds", r.seeds},
         {"reached", r.reached},
         {"evaluations", evaluations}};
  if (r.reached) {
    j["value"] = number(r.found.value);
    j["accuracy_mean"] = r.found.accuracy_mean;
    j["accuracy_std"] = r.found.accuracy_std;
    j["accuracy"] = json_array(r.accuracy);
    j["detected_optical_aJ_per_mac"] = r.energy.detected_optical_aJ_per_mac;
    j["laser_optical_aJ_per_mac"] = r.energy.laser_optical_aJ_per_mac;
    j["total_aJ_per_mac"] = r.energy.total_aJ_per_mac;
  }
  j["missed_value"] = r.bracketed ? number(r.missed_value) : Json(nullptr);
  if (!r.hint.empty()) j["hint"] = r.hint;
  return j;
}

CsvTable to_csv(const SearchResult& r) {
  CsvTable t;
  t.header = {r.key, "accuracy_mean", "accuracy_std", "meets_target"};
  for (const auto& p : r.evaluations)
    t.rows.push_back({format_real(p.value), format_real(p.accuracy_mean),
                      format_real(p.accuracy_std),
                      p.accuracy_mean >= r.target_accuracy ? "1" : "0"});
  return t;
}

}  // namespace lumac
