# The exact CUDA backend (-DREPRO_CUDA=ON): src/ops/cuda/*.cu -> repro_cuda,
# linked into repro, and the CUDA tests (label "cuda"; exit 77 = skipped
# when the machine has no GPU). Device code follows the numerics rules:
# no fused multiply-add but the explicit fmaf, IEEE division and square
# root, no flush-to-zero, never --use_fast_math.
if(NOT DEFINED CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
  set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
endif()
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES 90)
endif()
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)

# sm_90 machine code plus compute_90 PTX for later GPUs.
set(REPRO_CUDA_FLAGS
  --fmad=false -ftz=false -prec-div=true -prec-sqrt=true
  "SHELL:-gencode arch=compute_90,code=sm_90" "SHELL:-gencode arch=compute_90,code=compute_90"
  "SHELL:--Werror all-warnings" "SHELL:-Xcompiler -Wall,-Wextra,-Werror,-ffp-contract=off")

# The top-level add_compile_options() are gcc's (-Werror, -ffp-contract=off
# as bare nvcc options would be misread): a CUDA target starts from none
# and gets REPRO_CUDA_FLAGS, which pass the same host flags via -Xcompiler.
function(repro_cuda_flags target)
  set_property(TARGET ${target} PROPERTY COMPILE_OPTIONS "")
  set_target_properties(${target} PROPERTIES CUDA_ARCHITECTURES OFF)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:${REPRO_CUDA_FLAGS}>)
  target_include_directories(${target} PRIVATE ${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR}/src)
endfunction()

file(GLOB REPRO_CUDA_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/ops/cuda/*.cu)
add_library(repro_cuda STATIC ${REPRO_CUDA_SOURCES})
repro_cuda_flags(repro_cuda)
set_target_properties(repro_cuda PROPERTIES POSITION_INDEPENDENT_CODE ON) # also linked into librepro.so
target_link_libraries(repro_cuda PUBLIC CUDA::cudart_static ${CMAKE_DL_LIBS})
# mode: fast opens cuBLAS at run time (src/backend/cublas_lib.c); exact runs never load it
target_compile_definitions(repro PRIVATE REPRO_CUDA_LIBRARY_DIR="${CUDAToolkit_LIBRARY_DIR}")
target_link_libraries(repro PUBLIC repro_cuda)
# repro and repro_cli were made before CUDA was enabled: give them the
# property CMake now expects (they hold no device code).
set_target_properties(repro repro_cli PROPERTIES CUDA_ARCHITECTURES OFF)
target_compile_definitions(repro PUBLIC REPRO_HAVE_CUDA=1)

# tests/cuda/test_*.cu: each a test, labelled cuda (make test-cuda).
file(GLOB REPRO_CUDA_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/cuda/test_*.cu)
foreach(src ${REPRO_CUDA_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  repro_cuda_flags(${name})
  target_link_libraries(${name} PRIVATE repro CUDA::cudart_static)
  if(name STREQUAL "test_cuda_ops" OR name STREQUAL "test_cuda_bf16") # cuBLAS is their benchmarks' peer
    target_link_libraries(${name} PRIVATE CUDA::cublas)
  endif()
  add_test(NAME ${name} COMMAND ${name} WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
  set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900 LABELS cuda)
endforeach()

# An installed librepro.a needs the CUDA kernels and runtime beside it.
install(TARGETS repro_cuda ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
set(REPRO_PC_CUDA_LIBS "-lrepro_cuda -L${CUDAToolkit_LIBRARY_DIR} -lcudart_static -ldl -lrt -lstdc++ ")
