#include "lumac/circuits/homodyne_mac.hpp"
#include "lumac/core/units.hpp"
#include "lumac/energy/energy_model.hpp"
#include "lumac/studies/settings.hpp"
#include "tests/support.hpp"

using namespace lumac;
using namespace lumac::test;

namespace {

Settings default_settings() {
  return load_settings({}, {});
}

LayerWork layer(std::int64_t n, std::int64_t outputs, std::int64_t positions, int repeats,
                double photons) {
  LayerWork w;
  w.name = "layer";
  w.fan_in = n;
  w.outputs = outputs;
  w.positions = positions;
  w.weights = n * outputs;
  w.repeats = repeats;
  w.photons_per_mac = photons;
  return w;
}

std::size_t component(std::string_view name) {
  for (std::size_t i = 0; i < energy_components.size(); ++i)
    if (energy_components[i] == name) return i;
  FAIL("no component " << name);
  return 0;
}

}  // namespace

TEST_CASE("energy: 12.5 detected photons per MAC at 1550 nm is 1.602 aJ/MAC") {
  const Settings s = default_settings();
  const EnergyReport r = energy_report(s.circuit, s.energy, {layer(1000, 64, 1, 1, 12.5)});
  const LayerEnergy& l = r.layers[0];
  // 12.5 * 1.28158e-19 J = 1.602e-18 J.
  CHECK(std::abs(l.aJ_per_mac(l.detected_optical_J) - 1.602) < 0.005);
  // The laser-output figure is the detected one divided by the transmission from the laser to
  // detected photoelectrons, eta times the optical path (here 0.8 * 10^(-0.51)).
  const double transmission = 0.8 * std::pow(10.0, -0.51);
  CHECK(path_transmission(s.circuit) == doctest::Approx(std::pow(10.0, -0.51)));
  CHECK(l.aJ_per_mac(l.laser_optical_J) ==
        doctest::Approx(l.aJ_per_mac(l.detected_optical_J) / transmission));
  // And it is the laser power that gives 12.5 photons: P_L T / M per MAC.
  const CircuitParams c = with_photons_per_mac(s.circuit, 12.5);
  CHECK(l.laser_optical_J / l.macs == doctest::Approx(c.laser.power_W * 1e-10 / 32));
}

TEST_CASE("energy: the laser component is the tile's electrical laser power times the time") {
  // One laser feeds T = 4 tiles, each receiving the power that gives 20 photons per MAC; the
  // tile is charged V_f I_th / T + V_f P_L / eta_d (PHYSICS.md §7) for as long as the layer
  // runs, MACs T_symbol / M = 3200 * 1e-10 / 32 = 1e-8 s.
  Settings s = default_settings();
  s.circuit = with_photons_per_mac(s.circuit, 20);
  s.circuit.system.tiles_per_laser = 4;
  const double p_l = s.circuit.laser.power_W;
  const RateEquationLaser dyn(s.circuit.laser);
  const double v = s.circuit.laser.forward_voltage_V;
  const double per_tile_W =
      v * dyn.threshold_current_A() / 4 + v * p_l / dyn.slope_efficiency_W_per_A();
  const EnergyReport r = energy_report(s.circuit, s.energy, {layer(100, 32, 1, 1, 20)});
  const LayerEnergy& l = r.layers[0];
  const double time_s = l.macs * 1e-10 / 32;
  CHECK(l.laser_optical_J == doctest::Approx(p_l * time_s).epsilon(1e-9));
  CHECK(l.components_J[component("laser")] == doctest::Approx(per_tile_W * time_s).epsilon(1e-9));
  // At low power the threshold dominates: one tile per laser pays nearly V_f I_th.
  s.circuit.system.tiles_per_laser = 1;
  const LayerEnergy one = energy_report(s.circuit, s.energy, {layer(100, 32, 1, 1, 20)}).layers[0];
  CHECK(one.components_J[component("laser")] ==
        doctest::Approx((v * dyn.threshold_current_A() + v * p_l / dyn.slope_efficiency_W_per_A()) *
                        time_s)
            .epsilon(1e-9));
}

TEST_CASE("energy: doubling repeats doubles what repeats and nothing else") {
  for (auto averaging : {Averaging::digital, Averaging::analog}) {
    Settings s = default_settings();
    s.energy.weights_in_dram = true;  // a component that does not repeat
    s.circuit.system.averaging = averaging;
    const LayerEnergy a = energy_report(s.circuit, s.energy, {layer(200, 64, 9, 2, 10)}).layers[0];
    const LayerEnergy b = energy_report(s.circuit, s.energy, {layer(200, 64, 9, 4, 10)}).layers[0];
    const bool digital = averaging == Averaging::digital;
    CAPTURE(digital);
    for (const char* name :
         {"laser", "input_modulators", "weight_modulators", "input_dacs", "weight_dacs"}) {
      CAPTURE(name);
      CHECK(b.components_J[component(name)] ==
            doctest::Approx(2 * a.components_J[component(name)]));
    }
    CHECK(b.detected_optical_J == doctest::Approx(2 * a.detected_optical_J));
    // Read-outs and conversions repeat only with digital averaging.
    for (const char* name : {"readout", "adc"}) {
      CAPTURE(name);
      CHECK(b.components_J[component(name)] ==
            doctest::Approx((digital ? 2 : 1) * a.components_J[component(name)]));
    }
    // Memory: streamed weights and inputs repeat, the output write and the DRAM fetch do not.
    const double n = 200, macs = 200.0 * 64 * 9, outputs = 64.0 * 9;
    const double fixed = outputs * 1.25e-12 + n * 64 * 160e-12;
    const double repeated_a = 2 * macs * 1.25e-12 * (1 + 1.0 / 32);
    CHECK(a.components_J[component("memory")] == doctest::Approx(fixed + repeated_a));
    CHECK(b.components_J[component("memory")] == doctest::Approx(fixed + 2 * repeated_a));
    // Digital: bias and activation once, K accumulations with digital averaging.
    CHECK(a.components_J[component("digital")] ==
          doctest::Approx(0.03e-12 * outputs * (2 + (digital ? 2 : 0))));
    CHECK(b.components_J[component("digital")] ==
          doctest::Approx(0.03e-12 * outputs * (2 + (digital ? 4 : 0))));
  }
}

TEST_CASE("energy: input modulators per MAC fall as 1/M, read-out per MAC as 1/N") {
  Settings s = default_settings();
  s.circuit.system.fan_out = 8;
  const LayerEnergy m8 = energy_report(s.circuit, s.energy, {layer(100, 64, 1, 1, 10)}).layers[0];
  s.circuit.system.fan_out = 32;
  const LayerEnergy m32 = energy_report(s.circuit, s.energy, {layer(100, 64, 1, 1, 10)}).layers[0];
  const std::size_t mod = component("input_modulators");
  CHECK(m8.aJ_per_mac(m8.components_J[mod]) ==
        doctest::Approx(4 * m32.aJ_per_mac(m32.components_J[mod])));
  // C (2 V_pi)^2 / 4 = 200 fJ per symbol, shared by M = 32 outputs.
  CHECK(m32.aJ_per_mac(m32.components_J[mod]) == doctest::Approx(200e-15 / 32 * 1e18));
  const LayerEnergy n100 = energy_report(s.circuit, s.energy, {layer(100, 64, 1, 1, 10)}).layers[0];
  const LayerEnergy n400 = energy_report(s.circuit, s.energy, {layer(400, 64, 1, 1, 10)}).layers[0];
  const std::size_t ro = component("readout");
  CHECK(n100.aJ_per_mac(n100.components_J[ro]) ==
        doctest::Approx(4 * n400.aJ_per_mac(n400.components_J[ro])));
  CHECK(n100.aJ_per_mac(n100.components_J[ro]) == doctest::Approx(0.1e-12 / 100 * 1e18));
  // A layer with fewer outputs than the tile shares each input symbol among its outputs only.
  const LayerEnergy few = energy_report(s.circuit, s.energy, {layer(100, 4, 1, 1, 10)}).layers[0];
  CHECK(few.aJ_per_mac(few.components_J[mod]) == doctest::Approx(200e-15 / 4 * 1e18));
}

TEST_CASE("energy: components add up to the total exactly, per layer and overall") {
  Settings s = default_settings();
  s.energy.weights_in_dram = true;
  const EnergyReport r = energy_report(
      s.circuit, s.energy,
      {layer(25, 16, 784, 3, 5), layer(400, 32, 64, 1, 50), layer(1568, 10, 1, 2, 7)});
  double sum_layers = 0, sum_macs = 0;
  for (const auto& l : r.layers) {
    double sum = 0;
    for (double v : l.components_J) sum += v;
    CHECK(sum == l.total_J);
    sum_layers += l.total_J;
    sum_macs += l.macs;
  }
  CHECK(r.total.total_J == doctest::Approx(sum_layers).epsilon(1e-15));
  CHECK(r.total.macs == sum_macs);
  double sum_total = 0;
  for (double v : r.total.components_J) sum_total += v;
  CHECK(sum_total == doctest::Approx(r.total.total_J).epsilon(1e-15));
}

TEST_CASE("energy: weights reuse over the B rows, E(B) = a + c / B per MAC in closed form") {
  // Per MAC: inputs E_x / M (modulator 200 fJ, DAC 1 pJ, SRAM 1.25 pJ), weights E_w / B (the
  // same three), a read-out (0.1 pJ + ADC 1.28 pJ) per N = 100 MACs, and the digital and output
  // terms per dot product. With M = 32 outputs used: E(B) = a + c / B with c = 2.45 pJ.
  Settings s = default_settings();
  s.energy.modulator_static_W = s.energy.phase_lock_W = s.energy.receiver_static_W = 0;
  const double e_w = 200e-15 + 1e-12 + 1.25e-12;
  const double e_x = e_w / 32;
  const double per_dot = 0.1e-12 + 5e-15 * 256 + 1.25e-12 + 0.03e-12 * 3;
  const double a = e_x + per_dot / 100;
  for (int batch : {1, 4, 64}) {
    s.circuit.system.batch = batch;
    const LayerEnergy l = energy_report(s.circuit, s.energy, {layer(100, 32, 8, 1, 10)}).layers[0];
    double electronic = 0;
    for (const char* name : {"input_modulators", "weight_modulators", "input_dacs", "weight_dacs",
                             "readout", "adc", "memory", "digital"})
      electronic += l.components_J[component(name)];
    CAPTURE(batch);
    CHECK(electronic / l.macs == doctest::Approx(a + e_w / batch).epsilon(1e-12));
    CHECK(l.components_J[component("static")] == 0);
  }
  // The link budget splits the laser over the M B detectors: photons per symbol fall as 1/B
  // (and one splitter stage per doubling of B costs its excess loss).
  s.circuit.system.batch = 1;
  const LinkBudget one(s.circuit.laser, s.circuit.modulator, s.circuit.system);
  s.circuit.system.batch = 4;
  const LinkBudget four(s.circuit.laser, s.circuit.modulator, s.circuit.system);
  CHECK(four.splitter_stages() == one.splitter_stages() + 2);
  CHECK(four.signal_photons_per_symbol() ==
        doctest::Approx(one.signal_photons_per_symbol() / 4 * std::pow(10.0, -0.02)));
}

TEST_CASE("energy: static power over the tile's time, throughput and latency") {
  // t = ceil(outputs / M) positions N K / (B f): a layer of 40 outputs on M = 32 takes two
  // passes; P_static = (B + M) P_mod + P_lock + B M P_rx.
  Settings s = default_settings();
  s.circuit.system.batch = 2;
  const EnergyReport r =
      energy_report(s.circuit, s.energy, {layer(100, 40, 10, 3, 10), layer(50, 10, 1, 1, 10)});
  const double p_static = (2 + 32) * 1e-3 + 5e-3 + 2 * 32 * 0.1e-3;
  CHECK(r.static_W == doctest::Approx(p_static));
  const double t0 = 2.0 * 10 * 100 * 3 / (2 * 10e9), t1 = 1.0 * 1 * 50 * 1 / (2 * 10e9);
  CHECK(r.layers[0].tile_s == doctest::Approx(t0));
  CHECK(r.layers[1].tile_s == doctest::Approx(t1));
  CHECK(r.layers[0].components_J[component("static")] == doctest::Approx(p_static * t0));
  CHECK(r.total.tile_s == doctest::Approx(t0 + t1));
  CHECK(r.inferences_per_s() == doctest::Approx(1 / (t0 + t1)));
  CHECK(r.macs_per_s() == doctest::Approx((100.0 * 40 * 10 + 50.0 * 10) / (t0 + t1)));
  CHECK(r.latency_s() == doctest::Approx(2 * (t0 + t1)));
  // The laser runs for the same time, at the power of the layer's photon budget.
  const double p_l = r.layers[0].laser_W;
  CHECK(r.layers[0].laser_optical_J == doctest::Approx(p_l * t0));
  CHECK(p_l == doctest::Approx(with_photons_per_mac(s.circuit, 10).laser.power_W));
  // The removed weight_stationary names its replacement.
  CHECK_THROWS_WITH_AS(load_settings({}, {"energy.weight_stationary=true"}),
                       doctest::Contains("set system.batch"), Error);
}

TEST_CASE("energy: matched ADC resolution follows the read-out ENOB") {
  Settings s = default_settings();
  s.energy.adc_resolution = AdcResolution::matched;
  LayerWork w = layer(100, 32, 1, 1, 10);
  w.readout_enob = 4.3;
  const LayerEnergy l = energy_report(s.circuit, s.energy, {w}).layers[0];
  CHECK(l.adc_bits == 6);  // ceil(4.3 + 1)
  CHECK(l.components_J[component("adc")] == doctest::Approx(32 * 5e-15 * 64));
  w.readout_enob = 20;
  CHECK(energy_report(s.circuit, s.energy, {w}).layers[0].adc_bits == 8);  // at most adc.bits
}

TEST_CASE("energy: bad parameters and layers are errors") {
  CHECK_THROWS_WITH_AS(load_settings({}, {"energy.readout_J=-1"}),
                       "energy.readout_J = -1: must be finite and >= 0", Error);
  CHECK_THROWS_AS(load_settings({}, {"energy.bytes_per_weight=0"}), Error);
  CHECK_THROWS_WITH_AS(load_settings({}, {"energy.photonic_J=1"}),
                       doctest::Contains("unknown config key 'energy.photonic_J'"), Error);
  // The removed wall-plug efficiency names what replaced it, in one line.
  CHECK_THROWS_WITH_AS(load_settings({}, {"laser.wall_plug_efficiency=0.2"}),
                       "config key 'laser.wall_plug_efficiency' was removed: the electrical power "
                       "follows from the operating point, V_f (I_th + P / eta_d) + cooler: set "
                       "laser.forward_voltage_V and laser.cooler_power_W",
                       Error);
  CHECK_THROWS_WITH_AS(load_settings({}, {"laser.forward_voltage_V=-1"}),
                       "laser.forward_voltage_V = -1: must be in (0, 10]", Error);
  CHECK_THROWS_WITH_AS(load_settings({}, {"system.tiles_per_laser=0"}),
                       "system.tiles_per_laser = 0: must be an integer in [1, 1048576]", Error);
  const Settings s = default_settings();
  CHECK_THROWS_AS(energy_report(s.circuit, s.energy, {layer(0, 1, 1, 1, 1)}), Error);
  CHECK_THROWS_AS(energy_report(s.circuit, s.energy, {layer(10, 1, 1, 1, -1)}), Error);
}
