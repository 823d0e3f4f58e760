// What the MPI and the serial builds of lumac's MPI layer share (mpi/world.hpp): the test for
// a process started by mpirun, and the archive that results travel in between ranks.
#include <cstdlib>
#include <cstring>

#include "lumac/core/error.hpp"
#include "mpi/world.hpp"

namespace lumac::mpi {

bool launched_by_mpirun() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(name)) return true;
  return false;
}

void Writer::raw(const void* p, std::size_t n) {
  const auto* c = static_cast<const char*>(p);
  bytes_.insert(bytes_.end(), c, c + n);
}
void Writer::number(double v) {
  raw(&v, sizeof v);
}
void Writer::integer(std::int64_t v) {
  raw(&v, sizeof v);
}
void Writer::numbers(const std::vector<double>& v) {
  integer(static_cast<std::int64_t>(v.size()));
  raw(v.data(), v.size() * sizeof(double));
}
void Writer::text(const std::string& s) {
  integer(static_cast<std::int64_t>(s.size()));
  raw(s.data(), s.size());
}

void Reader::raw(void* p, std::size_t n) {
  if (bytes_.size() - at_ < n) fail("a message between MPI ranks is truncated");
  std::memcpy(p, bytes_.data() + at_, n);
  at_ += n;
}
double Reader::number() {
  double v;
  raw(&v, sizeof v);
  return v;
}
std::int64_t Reader::integer() {
  std::int64_t v;
  raw(&v, sizeof v);
  return v;
}
std::vector<double> Reader::numbers() {
  const std::int64_t n = integer();
  if (n < 0 || static_cast<std::size_t>(n) > (bytes_.size() - at_) / sizeof(double))
    fail("a message between MPI ranks is truncated");
  std::vector<double> v(static_cast<std::size_t>(n));
  raw(v.data(), v.size() * sizeof(double));
  return v;
}
std::string Reader::text() {
  const std::int64_t n = integer();
  if (n < 0 || static_cast<std::size_t>(n) > bytes_.size() - at_)
    fail("a message between MPI ranks is truncated");
  std::string s(static_cast<std::size_t>(n), '\0');
  raw(s.data(), s.size());
  return s;
}

}  // namespace lumac::mpi
