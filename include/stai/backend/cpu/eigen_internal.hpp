// stai — the one door to Eigen's internal packet math (Eigen::internal).
//
// The CPU kernels (backend/cpu/mmd_kernels.hpp) work on Eigen's SIMD packets:
// Packet<T> (one register of T), packet_size<T>, and the packet functions
// listed below. They are not part of Eigen's public API, so they are named
// here only, under stai::packet, and this header refuses Eigen versions it
// has not been checked with. The fast exp of the MMD kernel pass reproduces
// Eigen 3.4's pexp operation for operation (tested bit for bit against it).
// To support another Eigen version: check that every name below still exists
// with the same meaning, and that the MMD tests pass (they compare the fast
// exp with pexp, and the CPU kernels with the shared functors).
#pragma once
#include <Eigen/Core>

#include "../../config.hpp"

#if !(EIGEN_WORLD_VERSION == 3 && EIGEN_MAJOR_VERSION == 4 && EIGEN_MINOR_VERSION == 0)
#error "stai's CPU kernels use Eigen's internal packet math and support Eigen 3.4.0 only (Debian 12's libeigen3-dev); see stai/backend/cpu/eigen_internal.hpp"
#endif

namespace stai::packet {

/// One SIMD register of T, and how many T it holds.
template <class T>
using Packet = typename ::Eigen::internal::packet_traits<T>::type;
template <class T>
inline constexpr index_t packet_size = ::Eigen::internal::packet_traits<T>::size;

using ::Eigen::internal::padd;
using ::Eigen::internal::pexp;
using ::Eigen::internal::pfloor;
using ::Eigen::internal::pload;
using ::Eigen::internal::ploadu;
using ::Eigen::internal::pmadd;
using ::Eigen::internal::pmax;
using ::Eigen::internal::pmul;
using ::Eigen::internal::predux;
using ::Eigen::internal::pset1;
using ::Eigen::internal::pstore;
using ::Eigen::internal::pstoreu;
#if defined(EIGEN_VECTORIZE_AVX)
using ::Eigen::internal::Packet8f;
#endif

}  // namespace stai::packet
