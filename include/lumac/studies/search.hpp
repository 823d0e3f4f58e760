// The target search (lumac search): the least favourable value of one numeric config key at
// which a network still meets a target accuracy (clean minus a drop), e.g. the lowest laser
// power, the fewest ADC bits or repeats, or the highest amplifier noise. The accuracy at a
// value is the mean over seeds of evaluate_on_hardware; it is assumed to grow monotonically
// towards the better side of the key. Real keys are bracketed by factors of 4 from the
// configured value and bisected in log scale to a stated ratio (as the iso-accuracy search of
// precision studies); integer keys are bracketed by doubling and bisected to one step.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lumac/core/csv.hpp"
#include "lumac/core/json.hpp"
#include "lumac/studies/evaluation.hpp"
#include "lumac/studies/results.hpp"

namespace lumac {

struct SearchSpec {
  NetworkSpec network;
  HardwareSpec hardware;
  std::string key;                // a real or integer config key, e.g. laser.power_W
  double target_drop = 0.01;      // target accuracy = clean - drop, drop in (0, 1)
  std::string better = "higher";  // higher | lower: the side of the key where accuracy grows
  int seeds = 1;
  std::uint64_t seed = 1;
  double tolerance_ratio = 1.05;  // real keys: the bracket's hi / lo at the end
};

// One evaluated value of the key.
struct SearchPoint {
  double value = 0;
  double accuracy_mean = 0, accuracy_std = 0;
};

struct SearchResult {
  std::string key, unit, better;
  bool integer = false;
  double clean_accuracy = 0, target_accuracy = 0;
  int seeds = 1;
  bool reached = false;          // a value meets the target
  SearchPoint found;             // the least favourable value that meets it (if reached)
  double missed_value = 0;       // the nearest value tried on the unfavourable side that misses it
  bool bracketed = false;        // missed_value exists (else every value tried met the target)
  std::vector<double> accuracy;  // per seed, at the found value
  EnergyFigures energy;          // at the found value
  std::vector<SearchPoint> evaluations;
  std::string hint;  // when no value met the target and the direction looks wrong
};

SearchResult run_search(const SearchSpec& spec, const Settings& settings);
Json to_json(const SearchResult& result);
// Every evaluated value: key, accuracy_mean, accuracy_std, meets_target.
CsvTable to_csv(const SearchResult& result);

}  // namespace lumac
