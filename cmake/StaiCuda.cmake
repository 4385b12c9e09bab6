# stai — the optional CUDA backend (included at the end of the top-level
# CMakeLists.txt).
#
#   STAI_CUDA (ON when a CUDA compiler is found)
#     stai_cuda / stai::cuda   header-only INTERFACE target: stai + CUDA::cudart
#                              + CUDA::cublas, and the nvcc flags the headers need;
#                              installed in its own export set (staiCudaTargets).
#                              Defines STAI_WITH_CUDA for its users (see
#                              stai/backend/select.hpp: cuda_compiled()).
#     stai_cuda_tests          tests/cuda/*.cu (with STAI_BUILD_TESTS); ctest runs
#                              cuda_backend (SKIPPED without a CUDA device) and
#                              cuda_host_checks (host-side checks, pass without a GPU).
#     stai_bench_cuda          benchmarks/bench_cuda.cu (with STAI_BUILD_BENCHMARKS):
#                              the per-op and per-epoch benchmarks on the GPU, same
#                              names as stai_bench's; "no CUDA device" errors without one.
#     stai (the program)       gets apps/stai_cuda.cu and stai::cuda when that file exists.
#
# CMAKE_CUDA_ARCHITECTURES defaults to 90 (H100/H200; runs on newer GPUs through
# the embedded PTX). Pass -DCMAKE_CUDA_ARCHITECTURES=native (or e.g. 80, 86, 89)
# for another GPU.
include(CheckLanguage)
check_language(CUDA)
if(CMAKE_CUDA_COMPILER)
  set(_stai_cuda_default ON)
else()
  set(_stai_cuda_default OFF)
endif()
option(STAI_CUDA "Build the CUDA backend target stai::cuda and its tests (needs nvcc and cuBLAS)"
       ${_stai_cuda_default})
unset(_stai_cuda_default)

if(STAI_CUDA)
  if(NOT CMAKE_CUDA_COMPILER)
    message(FATAL_ERROR
      "STAI_CUDA is ON but no CUDA compiler was found: install the CUDA toolkit (12 or newer) "
      "and put nvcc on PATH, or pass -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc, "
      "or configure with -DSTAI_CUDA=OFF")
  endif()
  # Architectures: must be chosen before enable_language(CUDA), which would
  # otherwise pick nvcc's default.
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES AND NOT DEFINED ENV{CUDAARCHS})
    set(CMAKE_CUDA_ARCHITECTURES 90 CACHE STRING
        "CUDA architectures to build for (90 = H100/H200; native = the GPUs of this machine)")
  endif()
  # nvcc's host compiler: the project's C++ compiler, unless one was chosen.
  # (check_language may leave an empty normal variable behind, hence both sets.)
  if(NOT CMAKE_CUDA_HOST_COMPILER AND "$ENV{CUDAHOSTCXX}" STREQUAL ""
     AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    set(CMAKE_CUDA_HOST_COMPILER "${CMAKE_CXX_COMPILER}" CACHE FILEPATH
        "Host compiler used by nvcc")
    set(CMAKE_CUDA_HOST_COMPILER "${CMAKE_CXX_COMPILER}")
  endif()
  enable_language(CUDA)
  if(CMAKE_CUDA_COMPILER_VERSION VERSION_LESS 12.0)
    message(FATAL_ERROR
      "the stai CUDA backend needs CUDA 12 or newer (C++20 in nvcc), found "
      "${CMAKE_CUDA_COMPILER_VERSION}: install a newer toolkit or configure with -DSTAI_CUDA=OFF")
  endif()
  find_package(CUDAToolkit REQUIRED)

  add_library(stai_cuda INTERFACE)
  add_library(stai::cuda ALIAS stai_cuda)
  set_target_properties(stai_cuda PROPERTIES EXPORT_NAME cuda)  # installed as stai::cuda
  target_link_libraries(stai_cuda INTERFACE stai_core CUDA::cudart CUDA::cublas)
  # Tells code linked to stai::cuda (also plain .cpp files) that the CUDA
  # backend is built in: stai::cuda_compiled() in stai/backend/select.hpp.
  target_compile_definitions(stai_cuda INTERFACE STAI_WITH_CUDA)
  # C++20 in .cu files. CMake < 3.26 does not know nvcc's C++20 flag, so the
  # flag is given directly there.
  if("cuda_std_20" IN_LIST CMAKE_CUDA_COMPILE_FEATURES)
    target_compile_features(stai_cuda INTERFACE cuda_std_20)
  else()
    target_compile_options(stai_cuda INTERFACE $<$<COMPILE_LANGUAGE:CUDA>:-std=c++20>)
  endif()
  # For .cu files including stai headers:
  #  --expt-relaxed-constexpr  Eigen calls constexpr host functions from
  #                            host-device code (warning 20013 otherwise);
  #  -diag-suppress=20012      Eigen 3.4's __host__ __device__ on defaulted members;
  #  -diag-suppress=554        MatRef<const T>'s conversion operator (never used for const T);
  #  -diag-suppress=20014      Eigen 3.4's host-only internals (LLT, used by the host-side
  #                            refinement) reached from its __host__ __device__ members;
  #  -Xcompiler=<OpenMP flag>  the Cpu backend in .cu files is the same (parallel)
  #                            code as in .cpp files.
  set(_stai_cuda_opts --expt-relaxed-constexpr -diag-suppress=20012,554,20014)
  if(OpenMP_CXX_FLAGS)
    list(APPEND _stai_cuda_opts "-Xcompiler=${OpenMP_CXX_FLAGS}")
  endif()
  target_compile_options(stai_cuda INTERFACE "$<$<COMPILE_LANGUAGE:CUDA>:${_stai_cuda_opts}>")
  unset(_stai_cuda_opts)

  install(TARGETS stai_cuda EXPORT staiCudaTargets)
  install(EXPORT staiCudaTargets NAMESPACE stai:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/stai)

  if(STAI_BUILD_TESTS)
    # One executable, few translation units (nvcc is slow): main.cu holds the
    # runner, each other tests/cuda/*.cu adds TEST_CASEs (device ones inside
    # TEST_SUITE("device")).
    file(GLOB STAI_CUDA_TEST_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/../tests/cuda/*.cu)
    add_executable(stai_cuda_tests ${STAI_CUDA_TEST_SOURCES})
    target_link_libraries(stai_cuda_tests PRIVATE stai::cuda doctest::doctest)
    # -Wpedantic is left out: nvcc's generated host code trips it everywhere.
    # -Wno-unknown-pragmas: Eigen's nvcc-only '#pragma diag_suppress' lines
    # reach the host compiler.
    target_compile_options(stai_cuda_tests PRIVATE
      $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra,-Wno-unknown-pragmas>)
    # One CUDA runtime in the process: the shared one CUDA::cudart brings.
    set_target_properties(stai_cuda_tests PROPERTIES CUDA_RUNTIME_LIBRARY Shared)
    add_test(NAME cuda_backend COMMAND stai_cuda_tests)
    set_tests_properties(cuda_backend PROPERTIES SKIP_RETURN_CODE 77 LABELS cuda)
    add_test(NAME cuda_host_checks COMMAND stai_cuda_tests --host-only)
    set_tests_properties(cuda_host_checks PROPERTIES LABELS cuda)
  endif()

  if(STAI_BUILD_BENCHMARKS)
    # The CPU benchmarks' per-op and per-epoch cases on the CUDA backend
    # (find_package(benchmark) ran in the top-level CMakeLists.txt).
    add_executable(stai_bench_cuda ${CMAKE_CURRENT_LIST_DIR}/../benchmarks/bench_cuda.cu)
    target_link_libraries(stai_bench_cuda PRIVATE stai::cuda benchmark::benchmark_main)
    target_compile_options(stai_bench_cuda PRIVATE
      $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra,-Wno-unknown-pragmas>)
    set_target_properties(stai_bench_cuda PROPERTIES CUDA_RUNTIME_LIBRARY Shared)
  endif()

  # The `stai` program's CUDA path (cmake/StaiApps.cmake, included before this
  # file, defines the executable target `stai`): when apps/stai_cuda.cu exists
  # it is compiled by nvcc into the program, which then links stai::cuda (so
  # STAI_WITH_CUDA is defined in its .cpp files too and stai::cuda_compiled()
  # is true). See stai/backend/select.hpp for the dispatch pattern.
  if(TARGET stai AND EXISTS ${CMAKE_CURRENT_LIST_DIR}/../apps/stai_cuda.cu)
    get_target_property(_stai_program_type stai TYPE)
    if(_stai_program_type STREQUAL "EXECUTABLE")
      target_sources(stai PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../apps/stai_cuda.cu)
      target_link_libraries(stai PRIVATE stai::cuda)
      target_compile_options(stai PRIVATE
        $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra,-Wno-unknown-pragmas>)
      # The program target was created before CUDA was enabled: its CUDA
      # properties were not initialised from the CMAKE_CUDA_* variables.
      set_target_properties(stai PROPERTIES CUDA_RUNTIME_LIBRARY Shared
                                            CUDA_ARCHITECTURES "${CMAKE_CUDA_ARCHITECTURES}")
    endif()
    unset(_stai_program_type)
  endif()
endif()
