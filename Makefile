# Reflector build. `make` builds build/reflector; see README.md for the rest.
#
# The README's entry points (run, test, bench, bench-quick, fuzz, soak) run
# `deps` first and everything else in a sub-make: on a fresh machine deps
# installs what this file names (llhttp's sources, liburing's version in
# dpkg), so nothing may look at them before it ran. Keep it so: no `:=` with
# $(shell ...) or $(wildcard ...) of anything deps installs. tests/build/
# checks it.
CC       ?= gcc
SHARED   ?= ../shared
VERSION  := 0.1.0
# Asked of dpkg once, on first use: in the sub-make that compiles, after deps.
LIBURING_VERSION = $(eval LIBURING_VERSION := $(shell dpkg-query -W -f='$${Version}' liburing-dev 2>/dev/null | cut -d- -f1))$(LIBURING_VERSION)
CSTD     := -std=gnu11
WARN     := -Wall -Wextra -Werror
OPT      ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -DREFLECTOR_VERSION='"$(VERSION)"' -DLIBURING_VERSION='"$(LIBURING_VERSION)"' -Iproto -Irelay -Ibuild/llhttp/include
CFLAGS   += $(CSTD) $(WARN) $(OPT) -pthread
# Each object's header dependencies, written by the compiler beside it (.d).
DEPFLAGS := -MMD -MP
LDLIBS   := -lsodium -luring -lwslay -lmbedtls -lmbedx509 -lmbedcrypto -lxxhash -lpthread

LLHTTP_SRC ?= /usr/share/llhttp
LLHTTP_INC ?= /usr/share/include/llhttp

PROTO_SRC  := $(sort $(wildcard proto/*.c))
RELAY_MAIN := relay/main.c
# The NATS bus: only the relay itself links it, and -lnats.
BUS_SRC    := relay/bus_nats.c
RELAY_SRC  := $(filter-out $(RELAY_MAIN) $(BUS_SRC),$(sort $(wildcard relay/*.c)))
# The protocol layer; test_session.c links it over a fake runtime
# (tests/unit/fake_runtime.c) instead of the real one.
SESSION_SRC := relay/session.c relay/d25_session.c relay/registration.c relay/route.c relay/registry.c relay/crypto_pool.c relay/key_cache.c
SESSION_TEST_SRC := tests/unit/main.c tests/unit/vectors.c tests/unit/fake_runtime.c tests/unit/test_session.c \
                    tests/unit/test_crypto_pool.c \
                    $(PROTO_SRC) $(SESSION_SRC) relay/config.c relay/forwarded.c relay/addr_text.c relay/log.c relay/clock.c
# The runtime alone over a fake IO backend (tests/unit/fake_io.c), with an
# echo handler in place of the protocol.
# Beside both layers, like main.c: the metrics' content and the reload.
BESIDE_SRC := relay/metrics.c relay/reload.c
RUNTIME_TEST_SRC := tests/unit/main.c tests/unit/fake_io.c tests/unit/test_runtime.c \
                    $(filter-out relay/io_uring.c relay/io.c relay/epoll.c relay/key_file.c $(SESSION_SRC) $(BESIDE_SRC),$(RELAY_SRC))
UNIT_SRC   := $(filter-out tests/unit/fake_runtime.c tests/unit/test_session.c tests/unit/test_crypto_pool.c \
                           tests/unit/fake_io.c tests/unit/test_runtime.c,$(sort $(wildcard tests/unit/*.c)))

# One object tree per build flavour: plain, asan (ASan+UBSan), tsan.
# llhttp.h is order-only: the first build needs the copy; later ones know
# from the .d files which objects include it.
define flavour
$(1)_DIR   := build/$(if $(filter plain,$(1)),obj,$(1))
$(1)_LLHTTP := $$(addprefix $$($(1)_DIR)/llhttp/,llhttp.o api.o http.o)
$(1)_LIBOBJ := $$(patsubst %.c,$$($(1)_DIR)/%.o,$(PROTO_SRC) $(RELAY_SRC)) $$($(1)_LLHTTP)
$$($(1)_DIR)/%.o: %.c | build/llhttp/include/llhttp.h
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CPPFLAGS) $$(DEPFLAGS) $$(CFLAGS) $(2) -c $$< -o $$@
$$($(1)_DIR)/llhttp/%.o: $(LLHTTP_SRC)/%.c build/llhttp/include/llhttp.h
	@mkdir -p $$(dir $$@)
	$$(CC) $(CSTD) $(OPT) -w $(2) -Ibuild/llhttp/include -c $$< -o $$@
endef

# Passed by name: a comma inside $(call ...) would split the argument.
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
TSAN_FLAGS := -fsanitize=thread
$(eval $(call flavour,plain,))
$(eval $(call flavour,asan,$(ASAN_FLAGS)))
$(eval $(call flavour,tsan,$(TSAN_FLAGS)))

.PHONY: all unit clean sanitizers
all: build/reflector build/unit-tests build/session-tests build/runtime-tests build/reflector-bench build/no-io-uring

build/llhttp/include/llhttp.h: $(LLHTTP_INC)/llhttp.h
	@mkdir -p $(dir $@)
	cp $< $@

build/reflector: $(plain_LIBOBJ) build/obj/relay/bus_nats.o build/obj/relay/main.o
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -lnats
build/unit-tests: $(plain_LIBOBJ) $(patsubst %.c,build/obj/%.o,$(UNIT_SRC))
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# Runs a program with io_uring refused as Docker's default seccomp profile
# refuses it: the tests of the epoll fallback.
build/no-io-uring: tests/seccomp/no_io_uring.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $< -o $@ -lseccomp

build/session-tests: $(patsubst %.c,build/obj/%.o,$(SESSION_TEST_SRC))
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
build/runtime-tests: $(patsubst %.c,build/obj/%.o,$(RUNTIME_TEST_SRC)) $(plain_LLHTTP)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
build/asan/runtime-tests: $(patsubst %.c,build/asan/%.o,$(RUNTIME_TEST_SRC)) $(asan_LLHTTP)
	$(CC) $(CFLAGS) -fsanitize=address,undefined $^ -o $@ $(LDLIBS)
build/asan/session-tests: $(patsubst %.c,build/asan/%.o,$(SESSION_TEST_SRC))
	$(CC) $(CFLAGS) -fsanitize=address,undefined $^ -o $@ $(LDLIBS)
build/tsan/session-tests: $(patsubst %.c,build/tsan/%.o,$(SESSION_TEST_SRC))
	$(CC) $(CFLAGS) -fsanitize=thread $^ -o $@ $(LDLIBS)

build/asan/reflector: $(asan_LIBOBJ) build/asan/relay/bus_nats.o build/asan/relay/main.o
	$(CC) $(CFLAGS) -fsanitize=address,undefined $^ -o $@ $(LDLIBS) -lnats
build/asan/unit-tests: $(asan_LIBOBJ) $(patsubst %.c,build/asan/%.o,$(UNIT_SRC))
	$(CC) $(CFLAGS) -fsanitize=address,undefined $^ -o $@ $(LDLIBS)
build/tsan/reflector: $(tsan_LIBOBJ) build/tsan/relay/bus_nats.o build/tsan/relay/main.o
	$(CC) $(CFLAGS) -fsanitize=thread $^ -o $@ $(LDLIBS) -lnats

sanitizers: build/asan/reflector build/asan/unit-tests build/asan/session-tests build/asan/runtime-tests \
            build/tsan/reflector \
            build/tsan/session-tests

# ---- entry points: deps, then the rest in a sub-make (see the top).
# DEPS and RUN_ARGS are there for tests/build/, which stands in for deps.
DEPS     ?= ./tests/deps.sh
RUN_ARGS ?= --listen 127.0.0.1:8080 --www build/www
SUBMAKE  := $(MAKE) --no-print-directory
.PHONY: deps run test
deps:
	@$(DEPS)

run: deps
	$(SUBMAKE) build/reflector www
	./build/reflector $(RUN_ARGS)

test: deps
	$(SUBMAKE) all sanitizers www
	SHARED=$(SHARED) ./tests/run.sh

unit: build/unit-tests build/session-tests build/runtime-tests
	./build/unit-tests $(SHARED)
	./build/session-tests $(SHARED)
	./build/runtime-tests

clean:
	rm -rf build

# ---- the demo page's web root, build/www: the page (proto/js/demo), the
# client modules (proto/js/*.js), and webcryptobox's and qr's ES modules
# copied from their npm packages (proto/js/package-lock.json), so no copy is
# edited by hand. The client imports 'webcryptobox' by its bare name, as Node
# does; a page under a strict Content-Security-Policy can have no inline
# import map, so the web root's copy of identity.js names the vendored file.
WWW_DEMO   := $(wildcard proto/js/demo/*)
WWW_CLIENT := $(wildcard proto/js/*.js)
WCB_JS     := proto/js/node_modules/webcryptobox/index.js
QR_JS      := $(addprefix proto/js/node_modules/qr/,index.js decode.js dom.js LICENSE-MIT)
# npm writes this file on every install (package files keep 1985 mtimes).
JS_MODULES := proto/js/node_modules/.package-lock.json
.PHONY: www
www: build/www.stamp
build/www.stamp: $(WWW_DEMO) $(WWW_CLIENT) $(JS_MODULES)
	rm -rf build/www
	mkdir -p build/www/client build/www/vendor/qr
	cp $(WWW_DEMO) build/www/
	cp $(WWW_CLIENT) build/www/client/
	sed -i "s#from 'webcryptobox'#from '../vendor/webcryptobox.js'#" build/www/client/identity.js
	@! grep -n "from '[^./]" build/www/*.js build/www/client/*.js || { echo "www: a bare import is left"; exit 1; }
	cp $(WCB_JS) build/www/vendor/webcryptobox.js
	cp $(QR_JS) build/www/vendor/qr/
	touch $@
$(JS_MODULES): proto/js/package-lock.json
	npm ci --prefix proto/js --no-audit --no-fund --loglevel=error

# ---- fuzzing (tests/fuzz/): libFuzzer targets under ASan+UBSan, built with
# Debian's clang and libclang-rt-14-dev. `make fuzz FUZZ_SECONDS=60` runs
# each target that long on a copy of its seed corpus; a crash fails.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS  := $(CSTD) $(WARN) -g -O1 $(FUZZ_SAN)
FUZZ_TARGETS := http ws message proof proxy forwarded
FUZZ_BINS    := $(addprefix build/fuzz/fuzz_,$(FUZZ_TARGETS))
FUZZ_http_SRC    := relay/http.c
FUZZ_ws_SRC      := relay/ws.c relay/utf8.c relay/outq.c
FUZZ_message_SRC := $(PROTO_SRC) relay/utf8.c
FUZZ_proof_SRC   := $(PROTO_SRC) relay/utf8.c
FUZZ_proxy_SRC   := relay/proxy_protocol.c relay/addr_text.c
FUZZ_forwarded_SRC := relay/forwarded.c relay/addr_text.c
fuzz_obj = $(patsubst %.c,build/fuzz/obj/%.o,$(1))

build/fuzz/obj/%.o: %.c | build/llhttp/include/llhttp.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(DEPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
build/fuzz/obj/llhttp/%.o: $(LLHTTP_SRC)/%.c build/llhttp/include/llhttp.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CSTD) -g -O1 -w $(FUZZ_SAN) -fsanitize=fuzzer-no-link -Ibuild/llhttp/include -c $< -o $@
# Each target: tests/fuzz/fuzz_<target>.c and its FUZZ_<target>_SRC.
$(foreach t,$(FUZZ_TARGETS),$(eval build/fuzz/fuzz_$(t): $(call fuzz_obj,tests/fuzz/fuzz_$(t).c $(FUZZ_$(t)_SRC))))
build/fuzz/fuzz_http: $(addprefix build/fuzz/obj/llhttp/,llhttp.o api.o http.o)
$(FUZZ_BINS):
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $^ -o $@ $(LDLIBS)

.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZ_BINS)
fuzz: deps
	$(SUBMAKE) fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) ./tests/fuzz/run.sh $(FUZZ_TARGETS)

# ---- soak (tests/soak/): mixed traffic with connection churn against
# $(REFLECTOR) for SOAK_SECONDS (default 10 minutes), printing its RSS and
# fds every 10 s; fails if they keep growing, on traffic errors or a crash.
SOAK_SECONDS ?= 600
REFLECTOR    ?= build/reflector
.PHONY: soak
soak: deps
	$(SUBMAKE) $(REFLECTOR)
	REFLECTOR=$(REFLECTOR) SOAK_SECONDS=$(SOAK_SECONDS) /usr/bin/python3 -m tests.soak.soak

# ---- benchmarks (bench/): the load generator (bench/loadgen), the Node
# baseline peer (bench/peer) and the drivers (bench/driver).
# `make bench` compares relay and peer (under 10 minutes) and draws the chart;
# `make bench-quick` checks in well under a minute that the harness works,
# with no speed assertion. Both install what they need first (deps).
BENCH_SRC := $(sort $(wildcard bench/loadgen/*.c))
build/reflector-bench: $(patsubst %.c,build/obj/%.o,$(PROTO_SRC) $(BENCH_SRC))
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -ljansson -lm
# `report`'s page is in the binary (.incbin), which -MMD does not see.
build/obj/bench/loadgen/report_page.o: bench/loadgen/report_page.html

.PHONY: bench bench-quick bench-tls
bench: deps
	$(SUBMAKE) build/reflector build/reflector-bench
	/usr/bin/python3 bench/driver/compare.py
	/usr/bin/python3 bench/driver/tls.py
# wss:// (the relay's own TLS) beside ws://: route CPU, idle RSS, handshakes.
bench-tls: deps
	$(SUBMAKE) build/reflector build/reflector-bench
	/usr/bin/python3 bench/driver/tls.py
bench-quick: deps
	$(SUBMAKE) build/reflector build/reflector-bench
	/usr/bin/python3 bench/driver/compare.py --quick

# Header dependencies of the objects built so far, written by -MMD -MP beside
# each object (none on a first build, when every object is built anyway).
-include $(wildcard $(addsuffix *.d,build/*/ build/*/*/ build/*/*/*/ build/*/*/*/*/))
