// The shot-noise ENOB of one dot product and the accuracy of a bundled model under shot noise,
// through the installed library alone. Usage: consumer MODEL.h5
#include <cstdio>
#include <lumac/lumac.hpp>

int main(int argc, char** argv) try {
  if (argc != 2) return 2;
  const lumac::Settings settings = lumac::load_settings({}, {});  // the default preset
  lumac::CircuitSpec dot;
  dot.fan_in = 1000;
  dot.photons_per_mac = 1;
  dot.encoding = "norm-adaptive";
  dot.sources = "shot";  // shot noise alone: 0.5 log2(N n / 3) = 4.19 bits (PHYSICS.md)
  const lumac::EnobStudy enob = lumac::run_enob_study(settings, dot, 1, 0, false);
  lumac::NetworkSpec net;
  net.model = argv[1];
  net.limit = 500;
  const lumac::EvalStudy eval =
      lumac::run_eval_study(net, lumac::hardware_spec("shot"), settings, 1, 1);
  std::printf("%.17g %.17g\n", enob.budget.enob, eval.result.accuracy_mean);
} catch (const lumac::Error& e) {
  std::fprintf(stderr, "consumer: %s\n", e.what());
  return 2;
}
