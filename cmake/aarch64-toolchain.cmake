# Cross-building repro for Linux aarch64 on a Debian x86-64 host, and
# running what it builds under qemu's user-mode emulator (make test-aarch64;
# scripts/install-deps-aarch64.sh installs what this needs):
#   gcc-aarch64-linux-gnu   the compiler (libc in /usr/aarch64-linux-gnu)
#   libyaml-dev:arm64 ...   repro's libraries from Debian multiarch, in
#                           /usr/lib/aarch64-linux-gnu
#   qemu-user               qemu-aarch64, CMAKE_CROSSCOMPILING_EMULATOR: ctest
#                           runs every test program through it
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# Headers and libraries: the cross libc's tree and the arm64 multiarch
# directories of the host (never the host's x86-64 ones).
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# -L /: the ELF interpreter /lib/ld-linux-aarch64.so.1 and every library
# (libc too) from the host's arm64 multiarch directories (libc6:arm64), so
# ld.so and libc.so come from one glibc build. (-L /usr/aarch64-linux-gnu,
# the cross toolchain's libc, mixes its ld.so with Debian's newer arm64
# libc.so, and pthread_create then never returns under qemu.)
find_program(REPRO_QEMU_AARCH64 qemu-aarch64 REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${REPRO_QEMU_AARCH64} -L /)
