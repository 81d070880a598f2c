# gnconv's build and test entry points. `make test` is what CI runs.
GO ?= go

.PHONY: all build test fuzz fixtures generate bench bench-images bench-int8 clean release release-check man

all: build

build:
	$(GO) build -o bin/gnconv ./cmd/gnconv

# The whole suite: unit tests, the torch-recorded fixtures, and the interop
# tests (onnxruntime, onnx.checker, torch), which skip outside CI when their
# tools are missing and fail in CI (CI=true). The interop package runs
# for many minutes on two cores, past go test's 10-minute default.
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 60m ./...

# Short fuzzing runs of the checkpoint reader, the safetensors reader, the pickle writer, the
# ONNX reader and the interpreter on what it reads (under small limits).
# The budgets are counts of inputs, not durations: with a duration, Go
# 1.26's fuzzing coordinator can fail a run that found nothing with
# "context deadline exceeded" when its deadline races a busy worker
# (go.dev/issue/75804, fixed in Go 1.27). Minimising a new input is
# bounded the same way.
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzReadCheckpoint -fuzztime=$${FUZZTIME:-150000x} -fuzzminimizetime=$${FUZZMINTIME:-500x} ./convert
	$(GO) test -run='^$$' -fuzz=FuzzReadSafetensors -fuzztime=$${FUZZTIME:-150000x} -fuzzminimizetime=$${FUZZMINTIME:-500x} ./convert
	$(GO) test -run='^$$' -fuzz=FuzzWriteObject -fuzztime=$${FUZZTIME:-150000x} -fuzzminimizetime=$${FUZZMINTIME:-500x} ./convert
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$${FUZZTIME:-150000x} -fuzzminimizetime=$${FUZZMINTIME:-500x} ./verify
	$(GO) test -run='^$$' -fuzz='^FuzzParseRun$$' -fuzztime=$${FUZZTIME:-150000x} -fuzzminimizetime=$${FUZZMINTIME:-500x} ./verify

# Rewrites fixtures/ with Debian's python3-torch and python3-torchvision.
fixtures:
	/usr/bin/python3 fixtures/make_fixtures.py
	/usr/bin/python3 fixtures/make_whole_models.py

# Regenerates the ONNX protobuf types (needs protoc and protoc-gen-go).
generate:
	$(GO) generate ./internal/onnxpb

clean:
	rm -rf bin dist

# Static binaries for linux, darwin and windows on amd64 and arm64 in
# dist/, with SHA256SUMS; reproducible from the commit (scripts/release.sh).
release:
	sh scripts/release.sh dist

# The same, built twice: fails unless the two builds are byte for byte equal.
release-check:
	sh scripts/release.sh --check dist

# The manual page, generated from the command definitions.
man:
	$(GO) run ./cmd/gnconv man >docs/gnconv.1.tmp && mv docs/gnconv.1.tmp docs/gnconv.1

# Speed and memory, side by side with onnxruntime and torch, engines in
# turn round by round; writes the table of the kernel in use into
# docs/performance.md (GNCONV_KERNEL=avx2 make bench for the AVX2 one,
# with AVX-512 hidden from onnxruntime and torch too; on arm64 the NEON
# kernel's).
bench:
	bash bench/run.sh

# verify --images over photo folders of two sizes: time per image against
# the interpreter's and the reference pass's, and peak memory
# (docs/performance.md, "verify --images").
bench-images:
	bash bench/images.sh

# int8 files against float32 over a photo folder: the table in docs/verify.md
bench-int8:
	bash bench/int8.sh
