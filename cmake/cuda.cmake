# The exact CUDA backend (-DREPRO_CUDA=ON): src/ops/cuda/*.cu -> repro_cuda,
# linked into repro, and the CUDA tests (label "cuda"; exit 77 = skipped
# when the machine has no GPU). Device code follows the numerics rules:
# no fused multiply-add but the explicit fmaf, IEEE division and square
# root, no flush-to-zero, never --use_fast_math.
if(NOT DEFINED CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
  set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
endif()
# The GPUs the kernels are built for. By default every architecture from
# sm_80 (A100) up that has shipped as a data-centre or desktop GPU and that
# this toolkit can build (`nvcc --list-gpu-arch`), as machine code, plus
# compute_80 PTX that the driver compiles for any later GPU (JIT). Exact
# mode's bits do not depend on the architecture: every kernel is written
# out in one evaluation order with fmad off (docs/cuda.md). Override with
# -DCMAKE_CUDA_ARCHITECTURES="90" (one architecture builds in a third of
# the time) or any list: each entry N gives sm_N machine code, the lowest
# also compute_N PTX.
if(DEFINED CMAKE_CUDA_ARCHITECTURES AND NOT CMAKE_CUDA_ARCHITECTURES MATCHES "^(all|all-major|native)$")
  set(REPRO_CUDA_ARCHS ${CMAKE_CUDA_ARCHITECTURES})
else()
  execute_process(COMMAND ${CMAKE_CUDA_COMPILER} --list-gpu-arch OUTPUT_VARIABLE _repro_arch_list
                  RESULT_VARIABLE _repro_arch_rc ERROR_QUIET)
  set(REPRO_CUDA_ARCHS "")
  foreach(arch 80 86 89 90 100 120)
    if(NOT _repro_arch_rc EQUAL 0 OR _repro_arch_list MATCHES "compute_${arch}[^0-9]")
      list(APPEND REPRO_CUDA_ARCHS ${arch})
    endif()
  endforeach()
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 80)
  endif()
endif()
string(REGEX REPLACE "-(real|virtual)" "" REPRO_CUDA_ARCHS "${REPRO_CUDA_ARCHS}")
list(SORT REPRO_CUDA_ARCHS COMPARE NATURAL)
list(GET REPRO_CUDA_ARCHS 0 _repro_ptx_arch)
set(REPRO_CUDA_GENCODE "")
foreach(arch ${REPRO_CUDA_ARCHS})
  list(APPEND REPRO_CUDA_GENCODE "SHELL:-gencode arch=compute_${arch},code=sm_${arch}")
endforeach()
list(APPEND REPRO_CUDA_GENCODE "SHELL:-gencode arch=compute_${_repro_ptx_arch},code=compute_${_repro_ptx_arch}")
# Hopper's wgmma exists only in sm_90a code (arch-specific, runs on
# compute capability 9.0 alone): the files that use it (*_wgmma.cu) get
# sm_90a in place of sm_90 (and compute_90a PTX in place of compute_90's,
# so a forced JIT builds the real kernel too); for other targets their
# kernels are empty and never run (repro_cuda_bf16_wgmma_ready).
string(REPLACE "compute_90,code=sm_90" "compute_90a,code=sm_90a" REPRO_CUDA_GENCODE_90A "${REPRO_CUDA_GENCODE}")
string(REPLACE "compute_90,code=compute_90" "compute_90a,code=compute_90a" REPRO_CUDA_GENCODE_90A
       "${REPRO_CUDA_GENCODE_90A}")
list(JOIN REPRO_CUDA_ARCHS ", sm_" _repro_arch_text)
message(STATUS "repro: CUDA machine code for sm_${_repro_arch_text}; PTX for compute_${_repro_ptx_arch}")
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)

set(REPRO_CUDA_FLAGS
  --fmad=false -ftz=false -prec-div=true -prec-sqrt=true
  "SHELL:--Werror all-warnings" "SHELL:-Xcompiler -Wall,-Wextra,-Werror,-ffp-contract=off")

# The top-level add_compile_options() are gcc's (-Werror, -ffp-contract=off
# as bare nvcc options would be misread): a CUDA target starts from none
# and gets REPRO_CUDA_FLAGS, which pass the same host flags via -Xcompiler.
function(repro_cuda_flags target)
  set_property(TARGET ${target} PROPERTY COMPILE_OPTIONS "")
  set_target_properties(${target} PROPERTIES CUDA_ARCHITECTURES OFF)
  set(gencode ${REPRO_CUDA_GENCODE})
  if(ARGV1 STREQUAL "SM90A")
    set(gencode ${REPRO_CUDA_GENCODE_90A})
  endif()
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:${REPRO_CUDA_FLAGS} ${gencode}>)
  target_include_directories(${target} PRIVATE ${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR}/src)
endfunction()

file(GLOB REPRO_CUDA_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/ops/cuda/*.cu)
file(GLOB REPRO_CUDA_SM90A_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/ops/cuda/*_wgmma.cu)
list(REMOVE_ITEM REPRO_CUDA_SOURCES ${REPRO_CUDA_SM90A_SOURCES})
add_library(repro_cuda_sm90a OBJECT ${REPRO_CUDA_SM90A_SOURCES})
repro_cuda_flags(repro_cuda_sm90a SM90A)
set_target_properties(repro_cuda_sm90a PROPERTIES POSITION_INDEPENDENT_CODE ON)
add_library(repro_cuda STATIC ${REPRO_CUDA_SOURCES} $<TARGET_OBJECTS:repro_cuda_sm90a>)
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
