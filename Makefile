# The two commands of this project on a fresh machine:
#   make demo   set up, then run the main job (a quick ablation study with real FID) and print its report
#   make test   set up, then build and pass the test suite
# Both start with scripts/bootstrap.sh, which installs only what is missing.
SWIFT ?= swift
RELEASE_BIN = .build/release/maskdm

.PHONY: all bootstrap build test demo clean

all: build

bootstrap:
	@bash scripts/bootstrap.sh

build: bootstrap
	$(SWIFT) build -c release --product maskdm

test: bootstrap
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-swift-testing

demo: build
	bash scripts/demo.sh

clean:
	rm -rf .build
