# Thin wrapper over CMake + CTest. The two commands of the quick start:
#   make demo   installs what is missing (as root), builds, trains the reference config
#   make test   builds and runs the whole test suite
BUILD    ?= build
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
REPRO    := $(BUILD)/repro

.PHONY: all deps build demo demo-text test test-aarch64 test-asan test-tsan test-cuda test-faults fuzz soak bench bench-char-lm bench-venv bench-cnn bench-gpu check-math accuracy accuracy-cnn install clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: deps build
	$(REPRO) train examples/fashion_mlp.yaml --out runs/demo --force

# The character language model on the `fortunes` package's text (installed by deps).
demo-text: deps build
	$(REPRO) train examples/char_lm_mlp.yaml --out runs/char_lm --force
	$(REPRO) sample runs/char_lm --prompt "The " --tokens 200 --seed 1 --temperature 0.8

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The suite under AddressSanitizer + UndefinedBehaviorSanitizer (with
# float-cast-overflow, which gcc's "undefined" leaves out: a double out of an
# integer's range converted to it; fuzz/corpus/ledger/ has such an input),
# in a build with the I/O fault injection compiled in (it fails nothing
# unless REPRO_FAULT says so), so that test_faults walks its failures there
# too and CI, which runs this, runs it (see test-faults below).
test-asan:
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DCMAKE_BUILD_TYPE=RelWithDebInfo -DREPRO_SANITIZE=address,undefined,float-cast-overflow -DREPRO_FAULT_INJECTION=ON"

# Linux aarch64 (the NEON path), cross-built and run under qemu-user: the
# kernel and ISA unit tests and the golden runs of every example, which must
# give the x86-64 bits (scripts/test-aarch64.sh says which tests and why).
test-aarch64:
	@bash scripts/test-aarch64.sh build-aarch64

# The threaded parts under ThreadSanitizer.
test-tsan:
	$(MAKE) build BUILD=build-tsan CMAKE_FLAGS="-DCMAKE_BUILD_TYPE=RelWithDebInfo -DREPRO_SANITIZE=thread"
	cd build-tsan && ctest --output-on-failure -L threads

# The CUDA backend's tests (build-cuda, -DREPRO_CUDA=ON; skipped without a GPU).
test-cuda:
	$(MAKE) build BUILD=build-cuda CMAKE_FLAGS=-DREPRO_CUDA=ON
	cd build-cuda && ctest --output-on-failure -L cuda

# Fault injection: a build whose run-directory and checkpoint I/O can be made
# to fail call by call (-DREPRO_FAULT_INJECTION=ON, tests only, under ASan +
# UBSan so error paths that leak or touch freed memory fail too), then
# tests/test_faults.sh walks a failure over every write, fsync, rename and
# allocation of a short run and of a resume.
test-faults:
	cmake -S . -B build-faults -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREPRO_FAULT_INJECTION=ON -DREPRO_SANITIZE=address,undefined,float-cast-overflow
	cmake --build build-faults -j $(JOBS) --target repro_cli test_record
	cd build-faults && ctest --output-on-failure -R '^test_(faults|record|disk_full|force|tamper)$$'

# libFuzzer harnesses (fuzz/, needs clang) under ASan + UBSan, each run for
# FUZZ_SECONDS from its seed corpus in fuzz/corpus/<target>/; a finding is
# left in build-fuzz/findings/ and fails the target. Compiled as OSS-Fuzz
# does (-O1 -gline-tables-only: a third less compile time than -O2 -g, and
# the stack traces keep their lines); the SIMD GEMM kernels, which no
# fuzzer reaches, without sanitizers (CMakeLists.txt: 4.8 min -> 30 s).
FUZZ_SECONDS ?= 60
fuzz:
	@bash scripts/install-deps.sh --fuzz
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    '-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only' -DREPRO_FUZZ=ON -DREPRO_SANITIZE=address,undefined
	cmake --build build-fuzz -j $(JOBS) --target fuzz_targets
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash fuzz/run.sh build-fuzz

# kill -9 soak: tests/test_kill9.sh with 200 kills instead of CI's 20.
soak: build
	REPRO=$(REPRO) REPRO_SOURCE_DIR=$(CURDIR) REPRO_TEST_TMP=$(CURDIR)/$(BUILD)/tests/tmp \
	  REPRO_SOAK_KILLS=200 bash tests/test_kill9.sh

bench: build
	@bash scripts/install-deps.sh --bench
	@bash bench/run.sh $(BUILD)

# The character language model against PyTorch 1.13 (tokens/s at 1 and 2
# threads, then bits per character after the example's 1000 steps):
# docs/performance.md#character-language-model.
bench-char-lm: build
	@bash bench/char_lm.sh $(BUILD)

# Optional: a current PyTorch in bench/.venv, a fairer CPU peer than
# Debian's 1.13; make bench then measures both. The CPU-only wheel from
# PyTorch's index when it is reachable, else PyPI's (which also pulls the
# CUDA libraries, a few GB).
bench-venv:
	test -x bench/.venv/bin/pip || /usr/bin/python3 -m venv bench/.venv
	bench/.venv/bin/pip install --upgrade pip
	bench/.venv/bin/pip install numpy torch --index-url https://download.pytorch.org/whl/cpu || \
	  bench/.venv/bin/pip install numpy torch

# On a machine with a CUDA GPU and PyTorch: repro exact / fast against
# PyTorch eager and torch.compile (docs/cuda.md#training-speed)
bench-gpu:
	$(MAKE) build BUILD=build-cuda CMAKE_FLAGS=-DREPRO_CUDA=ON
	@bash bench/gpu.sh build-cuda/repro

# Exhaustive accuracy sweep of the portable math over all 2^32 inputs.
check-math: build
	$(BUILD)/tools/check_math

# Trains examples/fashion_mlp.yaml for its full 10 epochs and checks test accuracy.
accuracy: build
	@bash scripts/check-accuracy.sh $(BUILD)

# The conv net's 10 epochs (about 5 minutes on 2 cores; not part of make test).
accuracy-cnn: build
	@bash scripts/check-accuracy.sh $(BUILD) $(JOBS) fashion_cnn

# The conv nets against PyTorch on the CPU (bench/cnn.sh).
bench-cnn: build
	@bash bench/cnn.sh $(BUILD) 60 cnn resnet

install: build
	cmake --install $(BUILD)

clean:
	rm -rf build build-asan build-tsan build-cuda build-faults build-fuzz build-aarch64
