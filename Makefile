# framebus — the two README commands: `make demo` and `make test`.  Both
# install missing Debian packages first (scripts/deps.sh says what it does).
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
JOBS       ?= 2
CMAKE_FLAGS ?= -DFBUS_WERROR=ON

.PHONY: all deps build test test-asan test-tsan fuzz demo install clean

all: build

deps:
	@sh scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j$(JOBS)

# The whole suite; each libFuzzer target for FUZZ_SECONDS; the threaded
# tests under TSan; the whole suite again under ASan+UBSan (last, so that
# the run ends with ctest's summary of the largest pass).
# (5 targets x 36 s: the 3 minutes four took at 45 s)
FUZZ_SECONDS ?= 36
test: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)
	$(MAKE) --no-print-directory fuzz test-tsan test-asan

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DFBUS_SANITIZER=address $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(JOBS) -LE noasan

test-tsan: deps
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DFBUS_SANITIZER=thread $(CMAKE_FLAGS)
	cmake --build $(TSAN_BUILD) -j$(JOBS) --target tsan-tests
	TSAN_OPTIONS=halt_on_error=1 ctest --test-dir $(TSAN_BUILD) --output-on-failure -j$(JOBS) -L tsan

fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh build-fuzz

# `make demo DEMO_ARGS="--duration 20"` passes options through.
demo: build
	./$(BUILD)/framebus demo $(DEMO_ARGS)

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) build-fuzz
