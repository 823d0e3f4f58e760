// System parameters of the homodyne optical MAC tile (PHYSICS.md §2 and §7) and its optical link
// budget: how a laser power becomes photons per symbol at each detector.
//
// The tile is B rows of M balanced detectors (Hamerly et al. 2019): B input modulators (one per
// row: a sample of the batch, or an output position of a convolution) each fan out to the M
// outputs of their row, and M weight modulators each fan out to the B rows, so an input symbol
// serves M MACs and a weight symbol B. One laser feeds a signal path (fraction s of its power)
// and a local-oscillator path (1 - s). Each path loses the laser-to-chip coupling, its
// propagation loss, the excess loss of every 1x2 splitter stage (one for the signal/LO split,
// ceil(log2 M) + ceil(log2 B) for the trees to the M B detectors) and the modulator insertion
// loss, and is divided among the M B detectors:
//   T_path = (share / (M B)) 10^(-(coupling + waveguide + excess * stages + IL) / 10)
//   n_path = P_L T_path / (f_sym E_ph)          photons per symbol at full scale.
#pragma once

#include <array>
#include <string_view>
#include <utility>

#include "lumac/core/config.hpp"
#include "lumac/devices/laser.hpp"
#include "lumac/devices/modulator.hpp"

namespace lumac {

enum class Encoding { full_scale, norm_adaptive };
template <>
struct EnumNames<Encoding> {
  static constexpr std::array<std::pair<Encoding, std::string_view>, 2> values{
      {{Encoding::full_scale, "full-scale"}, {Encoding::norm_adaptive, "norm-adaptive"}}};
};

enum class Averaging { digital, analog };
template <>
struct EnumNames<Averaging> {
  static constexpr std::array<std::pair<Averaging, std::string_view>, 2> values{
      {{Averaging::digital, "digital"}, {Averaging::analog, "analog"}}};
};

// The weight full scale m_w of a network layer on the hardware (nn/analog.hpp): one max|W| per
// layer, or max_j |W_ij| per output row i (each row's LO at its own full scale).
enum class WeightFullScale { layer, row };
template <>
struct EnumNames<WeightFullScale> {
  static constexpr std::array<std::pair<WeightFullScale, std::string_view>, 2> values{
      {{WeightFullScale::layer, "layer"}, {WeightFullScale::row, "row"}}};
};

struct SystemParams {
  double symbol_rate_Hz = 10e9;              // modulation symbol rate
  double temperature_K = 300;                // temperature of the read-out electronics
  int fan_out = 32;                          // M parallel outputs sharing one input broadcast
  double signal_split = 0.5;                 // fraction of laser power sent to the signal path
  double coupling_loss_dB = 1.0;             // laser-to-chip coupling loss
  double waveguide_loss_dB = 0.5;            // propagation loss of each path
  double splitter_excess_loss_dB = 0.1;      // excess loss of each 1x2 splitter stage
  Encoding encoding = Encoding::full_scale;  // full-scale or norm-adaptive photon allocation
  Averaging averaging = Averaging::digital;  // how repeats are averaged
  int repeats = 1;                           // K repeats of every dot product
  int batch = 1;                             // B rows sharing every weight symbol
  int tiles_per_laser = 1;                   // tiles one laser feeds (its threshold power shared)
  WeightFullScale weight_full_scale = WeightFullScale::layer;  // network layers: m_w per layer/row
  bool offset_calibration = true;  // subtract each output's read-out at zero input
  double lo_phase_error_rad = 0;   // static signal-LO phase error std of each detector
  double lo_phase_noise_rad = 0;   // temporal signal-LO phase noise std, new every repeat
  double splitter_imbalance = 0;   // relative std of the power each output's detector receives
  int device_seed = 0;             // the chip the static spreads are drawn for; 0 = random
};

template <class V>
void visit_fields(SystemParams& p, V& v) {
  v.real("symbol_rate_Hz", p.symbol_rate_Hz, "Hz", "modulation symbol rate");
  v.real("temperature_K", p.temperature_K, "K", "temperature of the read-out electronics");
  v.integer("fan_out", p.fan_out, "1", "M parallel outputs sharing one input broadcast");
  v.real("signal_split", p.signal_split, "1", "fraction of laser power sent to the signal path");
  v.real("coupling_loss_dB", p.coupling_loss_dB, "dB", "laser-to-chip coupling loss");
  v.real("waveguide_loss_dB", p.waveguide_loss_dB, "dB", "propagation loss of each path");
  v.real("splitter_excess_loss_dB", p.splitter_excess_loss_dB, "dB",
         "excess loss of each 1x2 splitter stage");
  v.choice("encoding", p.encoding, "full-scale or norm-adaptive photon allocation");
  v.choice("averaging", p.averaging, "digital (K read-outs) or analog (one accumulated read-out)");
  v.integer("repeats", p.repeats, "1", "K repeats of every dot product");
  v.integer("batch", p.batch, "1",
            "B rows of detectors: samples or convolution positions sharing every weight symbol");
  v.integer("tiles_per_laser", p.tiles_per_laser, "1",
            "tiles one laser feeds, each receiving laser.power_W (threshold and cooler shared)");
  v.choice("weight_full_scale", p.weight_full_scale,
           "network layers: weight full scale max abs(W) per layer, or per output row");
  v.boolean("offset_calibration", p.offset_calibration,
            "subtract each output's read-out at zero input, measured once (trims the extinction "
            "offset)");
  v.real("lo_phase_error_rad", p.lo_phase_error_rad, "rad",
         "static signal-LO phase error std of each detector (row, output), drawn once per device");
  v.real("lo_phase_noise_rad", p.lo_phase_noise_rad, "rad",
         "temporal signal-LO phase noise std, drawn anew for every repeat");
  v.real("splitter_imbalance", p.splitter_imbalance, "1",
         "relative std of the signal and LO power reaching each detector (row, output), drawn once "
         "per device");
  v.integer("device_seed", p.device_seed, "1",
            "chip whose static spreads are drawn (--device-seed); 0 = a new chip per noise seed "
            "(networks) or per Monte Carlo sample (circuits)");
}

void validate(const SystemParams& p);

// Photons per symbol at one detector for a laser power, at full scale.
class LinkBudget {
 public:
  LinkBudget(const LaserParams& laser, const ModulatorParams& modulator,
             const SystemParams& system);

  int splitter_stages() const;         // 1 + ceil(log2 M) + ceil(log2 B)
  double common_loss_dB() const;       // coupling + waveguide + excess * stages + IL
  double detectors() const;            // M B
  double signal_transmission() const;  // laser power fraction reaching one output's detector
  double lo_transmission() const;
  double symbol_period_s() const;
  double photon_energy_J() const;
  // Photons per symbol at one detector at full scale (|x| = 1), for the configured laser power.
  double signal_photons_per_symbol() const;
  double lo_photons_per_symbol() const;
  // The laser power giving `photons` signal + LO photons per symbol at one detector, full scale.
  double laser_power_for_photons(double photons_per_symbol) const;

 private:
  LaserParams laser_;
  ModulatorParams modulator_;
  SystemParams system_;
};

}  // namespace lumac
