// Makes the coefficient table of the inverse normal CDF in core/noise_rng.cpp and reports its
// error: z(r) = sqrt(2) erfc^-1(r), on octave o = 0 .. 31 of r (r = f 2^-(o+1), f in [1, 2)), is
// fitted by a degree-6 polynomial in t = f - 1.5 (least squares on 200 Chebyshev nodes, in long
// double with Boost's erfc_inv), the coefficients rounded to float, and the polynomial evaluated
// as the kernels do (float, fused multiply-adds) on 65,537 points per octave.
//
//   g++ -O2 -std=c++20 -o /tmp/noise_normal_table scripts/noise_normal_table.cpp
//   /tmp/noise_normal_table          # the table, as pasted into core/noise_rng.cpp
//   /tmp/noise_normal_table --error  # the largest error per octave
#include <boost/math/special_functions/erf.hpp>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

namespace {

using LD = long double;
constexpr int degree = 6, octaves = 32, nodes = 200;

LD z_exact(LD r) {
  return std::sqrt(LD{2}) * boost::math::erfc_inv(r);
}

// Least-squares coefficients (t^0 .. t^degree) of z on octave o.
std::vector<LD> fit(int o) {
  constexpr int m = degree + 1;
  std::vector<LD> a(m * m, 0), b(m, 0);
  for (int k = 0; k < nodes; ++k) {
    const LD t = std::cos(M_PIl * (k + 0.5L) / nodes) / 2;  // Chebyshev nodes on [-1/2, 1/2]
    const LD y = z_exact((1.5L + t) * std::ldexp(LD{1}, -(o + 1)));
    LD p[m];
    p[0] = 1;
    for (int j = 1; j < m; ++j) p[j] = p[j - 1] * t;
    for (int i = 0; i < m; ++i) {
      b[i] += p[i] * y;
      for (int j = 0; j < m; ++j) a[i * m + j] += p[i] * p[j];
    }
  }
  for (int i = 0; i < m; ++i)  // Gaussian elimination (the normal equations are positive definite)
    for (int r = i + 1; r < m; ++r) {
      const LD f = a[r * m + i] / a[i * m + i];
      for (int j = i; j < m; ++j) a[r * m + j] -= f * a[i * m + j];
      b[r] -= f * b[i];
    }
  std::vector<LD> c(m);
  for (int i = m - 1; i >= 0; --i) {
    LD s = b[i];
    for (int j = i + 1; j < m; ++j) s -= a[i * m + j] * c[j];
    c[i] = s / a[i * m + i];
  }
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  const bool error = argc > 1 && std::strcmp(argv[1], "--error") == 0;
  float table[degree + 1][octaves];
  for (int o = 0; o < octaves; ++o) {
    const std::vector<LD> c = fit(o);
    for (int k = 0; k <= degree; ++k) table[k][o] = static_cast<float>(c[k]);
    if (!error) continue;
    double worst = 0;
    for (int i = 0; i <= 1 << 16; ++i) {
      const float f = std::fmin(1.0f + static_cast<float>(i) / 65536.0f, 0x1.fffffep0f);
      const float t = f - 1.5f;
      float z = table[degree][o];
      for (int k = degree - 1; k >= 0; --k) z = std::fma(z, t, table[k][o]);
      const LD exact = z_exact(static_cast<LD>(f) * std::ldexp(LD{1}, -(o + 1)));
      worst = std::fmax(worst, std::fabs(static_cast<double>(z - exact)));
    }
    std::printf("octave %2d: largest error %.2e\n", o, worst);
  }
  if (error) return 0;
  for (int k = 0; k <= degree; ++k) {
    std::printf("    {  // t^%d\n", k);
    for (int o = 0; o < octaves; o += 4)
      std::printf("     %.9ef, %.9ef, %.9ef, %.9ef,\n", table[k][o], table[k][o + 1],
                  table[k][o + 2], table[k][o + 3]);
    std::printf("    },\n");
  }
}
