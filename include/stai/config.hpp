// stai — configuration: version, host/device annotation, index type.
#pragma once
#include <cstdint>

#define STAI_VERSION_MAJOR 0
#define STAI_VERSION_MINOR 1
#define STAI_VERSION_PATCH 0
#define STAI_VERSION_STRING "0.1.0"

// Every per-element, per-row and per-edge formula is a functor whose call
// operator carries STAI_HOST_DEVICE, so the CPU backend loops over it and the
// CUDA backend launches it in a kernel, unchanged.
#if defined(__CUDACC__)
#define STAI_HOST_DEVICE __host__ __device__
#define STAI_DEVICE_CODE 1
#else
#define STAI_HOST_DEVICE
#define STAI_DEVICE_CODE 0
#endif

namespace stai {
/// Signed index type used for sizes and loops everywhere in stai.
using index_t = std::int64_t;
inline constexpr const char* version() { return STAI_VERSION_STRING; }
}  // namespace stai
