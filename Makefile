# The front door. `make demo` and `make check` install what is missing first.
BUILD ?= build

.PHONY: all deps build check demo bench clean

all: build

deps:
	@scripts/install-deps

build: deps
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) -Dbuildtype=release
	@ninja -C $(BUILD)

check:
	@scripts/check

demo: build
	@scripts/demo.sh $(BUILD)

bench: build
	@scripts/bench.sh $(BUILD)

clean:
	rm -rf build build-asan build-fuzz build*.buildlog
