# The README's two commands: `make up` and `make test`. Everything else is a helper.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WEB := sdk/web
WEB_STAMP := $(WEB)/node_modules/.installed
WEB_SCRIPT := $(WEB)/dist/causality.js
UI := webui
UI_STAMP := $(UI)/node_modules/.installed
UI_INDEX := $(UI)/dist/index.html
CHROMIUM ?= /usr/bin/chromium
TOOLS := .tools/bin
HELM := $(TOOLS)/helm
HELM_VERSION := v3.22.0
HELM_STAMP := .tools/.helm-$(HELM_VERSION)

.PHONY: up test install lint format bench clean web-sdk webui chromium helm go-check mobile mobile

$(STAMP): pyproject.toml sdk/python/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet -e sdk/python
	touch $(STAMP)

install: $(STAMP)

$(WEB_STAMP): $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund
	touch $(WEB_STAMP)

## The web SDK's bundles; the gateway serves dist/causality.js at /sdk/causality.js.
$(WEB_SCRIPT): $(WEB_STAMP) $(WEB)/build.mjs $(WEB)/tsconfig.json $(WEB)/tsconfig.build.json \
		$(wildcard $(WEB)/src/*.ts)
	cd $(WEB) && npm run --silent build

web-sdk: $(WEB_SCRIPT)

$(UI_STAMP): $(UI)/package.json $(UI)/package-lock.json
	cd $(UI) && npm ci --no-audit --no-fund
	touch $(UI_STAMP)

## The analyst web UI (type check, Vite build, bundle size report); the gateway serves
## webui/dist at /app. Rebuilt when a source or config file changes.
$(UI_INDEX): $(UI_STAMP) $(UI)/index.html $(UI)/vite.config.ts $(UI)/scripts/size.mjs \
		$(wildcard $(UI)/tsconfig*.json) $(shell find $(UI)/src -type f 2>/dev/null)
	cd $(UI) && npm run --silent build

webui: $(UI_INDEX)

## Debian's Chromium for the web SDK's browser tests (apt needs root, as on CI), once.
chromium:
	@test -x $(CHROMIUM) || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

## helm for the chart checks (tests/k8s), built from the Go module proxy once per version.
$(HELM_STAMP):
	GOBIN=$(abspath $(TOOLS)) go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	touch $(HELM_STAMP)

helm: $(HELM_STAMP)

## The mobile core's bindings (sdk/mobile): an .aar where the Android SDK + NDK are installed,
## an .xcframework where Xcode is; otherwise it says what is missing and exits 0.
MOBILE := sdk/mobile
MOBILE_OUT := $(MOBILE)/build
GOMOBILE := $(abspath $(TOOLS))/gomobile
GOMOBILE_VERSION := v0.0.0-20261011034528-197770444867
GOMOBILE_STAMP := .tools/.gomobile-$(GOMOBILE_VERSION)
NDK := $(or $(ANDROID_NDK_HOME),$(wildcard $(ANDROID_HOME)/ndk-bundle),$(lastword $(sort $(wildcard $(ANDROID_HOME)/ndk/*))))

$(GOMOBILE_STAMP):
	GOBIN=$(abspath $(TOOLS)) go install golang.org/x/mobile/cmd/gomobile@$(GOMOBILE_VERSION)
	GOBIN=$(abspath $(TOOLS)) go install golang.org/x/mobile/cmd/gobind@$(GOMOBILE_VERSION)
	touch $(GOMOBILE_STAMP)

mobile:
	@built=0; \
	if [ -n "$(ANDROID_HOME)" ] && [ -n "$(NDK)" ]; then \
		$(MAKE) --no-print-directory $(GOMOBILE_STAMP) && mkdir -p $(MOBILE_OUT) && \
		cd $(MOBILE) && PATH="$(abspath $(TOOLS)):$$PATH" ANDROID_NDK_HOME="$(NDK)" \
			$(GOMOBILE) bind -target android -androidapi 21 -javapkg dev.causality \
			-o build/causality.aar . || exit 1; \
		cd $(CURDIR); echo "built $(MOBILE_OUT)/causality.aar"; built=1; \
	else \
		echo "mobile: Android skipped: set ANDROID_HOME to an Android SDK with the NDK installed (sdkmanager 'ndk;<version>'), or ANDROID_NDK_HOME"; \
	fi; \
	if command -v xcodebuild >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory $(GOMOBILE_STAMP) && mkdir -p $(MOBILE_OUT) && \
		cd $(MOBILE) && PATH="$(abspath $(TOOLS)):$$PATH" \
			$(GOMOBILE) bind -target ios,iossimulator \
			-o build/Causality.xcframework . || exit 1; \
		cd $(CURDIR); echo "built $(MOBILE_OUT)/Causality.xcframework"; built=1; \
	else \
		echo "mobile: iOS skipped: xcodebuild not found (needs macOS with Xcode and its command line tools)"; \
	fi; \
	if [ $$built = 0 ]; then echo "mobile: nothing built (no Android NDK, no Xcode)"; fi

## The Go SDK and the mobile core: formatting, vet and unit tests (the tests against the real
## gateway run from pytest: tests/integration/test_sdk_go.py, test_sdk_mobile.py).
go-check:
	cd sdk/go && test -z "$$(gofmt -l .)" && go vet ./... && go test -count=1 ./...
	cd sdk/mobile && test -z "$$(gofmt -l .)" && go vet ./... && go test -count=1 ./...

## Run the whole platform locally (DEMO=1 also streams synthetic traffic).
up: install web-sdk webui
	$(BIN)/causality up $(if $(DEMO),--demo,)

## Lint, then the full test suite (real NATS, PostgreSQL, Ray; started by the fixtures).
test: install lint web-sdk webui chromium helm go-check
	cd $(WEB) && npm test
	cd $(UI) && npm test
	CHROMIUM_PATH=$(CHROMIUM) HELM=$(abspath $(HELM)) $(BIN)/pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.sink

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache $(WEB)/node_modules $(WEB)/dist \
		$(UI)/node_modules $(UI)/dist
