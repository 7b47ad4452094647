# Reflector build. `make` builds build/reflector; see README.md for the rest.
CC       ?= gcc
SHARED   ?= ../shared
VERSION  := 0.1.0
LIBURING_VERSION := $(shell dpkg-query -W -f='$${Version}' liburing-dev 2>/dev/null | cut -d- -f1)
CSTD     := -std=gnu11
WARN     := -Wall -Wextra -Werror
OPT      ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -DREFLECTOR_VERSION='"$(VERSION)"' -DLIBURING_VERSION='"$(LIBURING_VERSION)"' -Iproto -Irelay -Ibuild/llhttp/include
CFLAGS   += $(CSTD) $(WARN) $(OPT) -pthread
LDLIBS   := -luring -lwslay -lmbedtls -lmbedx509 -lmbedcrypto -lxxhash -lck -lpthread

LLHTTP_SRC := /usr/share/llhttp
LLHTTP_INC := /usr/share/include/llhttp

PROTO_SRC  := $(sort $(wildcard proto/*.c))
RELAY_MAIN := relay/main.c
RELAY_SRC  := $(filter-out $(RELAY_MAIN),$(sort $(wildcard relay/*.c)))
UNIT_SRC   := $(sort $(wildcard tests/unit/*.c))

# One object tree per build flavour: plain, asan (ASan+UBSan), tsan.
define flavour
$(1)_DIR   := build/$(if $(filter plain,$(1)),obj,$(1))
$(1)_LLHTTP := $$(addprefix $$($(1)_DIR)/llhttp/,llhttp.o api.o http.o)
$(1)_LIBOBJ := $$(patsubst %.c,$$($(1)_DIR)/%.o,$(PROTO_SRC) $(RELAY_SRC)) $$($(1)_LLHTTP)
$$($(1)_DIR)/%.o: %.c $(wildcard proto/*.h relay/*.h tests/unit/*.h) build/llhttp/include/llhttp.h
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CPPFLAGS) $$(CFLAGS) $(2) -c $$< -o $$@
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

.PHONY: all deps run test unit clean sanitizers
all: build/reflector build/unit-tests build/reflector-bench

build/llhttp/include/llhttp.h: $(LLHTTP_INC)/llhttp.h
	@mkdir -p $(dir $@)
	cp $< $@

build/reflector: $(plain_LIBOBJ) build/obj/relay/main.o
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)
build/unit-tests: $(plain_LIBOBJ) $(patsubst %.c,build/obj/%.o,$(UNIT_SRC))
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

build/asan/reflector: $(asan_LIBOBJ) build/asan/relay/main.o
	$(CC) $(CFLAGS) -fsanitize=address,undefined $^ -o $@ $(LDLIBS)
build/asan/unit-tests: $(asan_LIBOBJ) $(patsubst %.c,build/asan/%.o,$(UNIT_SRC))
	$(CC) $(CFLAGS) -fsanitize=address,undefined $^ -o $@ $(LDLIBS)
build/tsan/reflector: $(tsan_LIBOBJ) build/tsan/relay/main.o
	$(CC) $(CFLAGS) -fsanitize=thread $^ -o $@ $(LDLIBS)

sanitizers: build/asan/reflector build/asan/unit-tests build/tsan/reflector

deps:
	@./tests/deps.sh

run: deps build/reflector www
	./build/reflector --listen 127.0.0.1:8080 --www build/www

unit: build/unit-tests
	./build/unit-tests $(SHARED)

test: deps all sanitizers www
	SHARED=$(SHARED) ./tests/run.sh

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
FUZZ_TARGETS := http ws message proof
FUZZ_BINS    := $(addprefix build/fuzz/fuzz_,$(FUZZ_TARGETS))
FUZZ_http_SRC    := relay/http.c
FUZZ_ws_SRC      := relay/ws.c relay/utf8.c relay/outq.c
FUZZ_message_SRC := $(PROTO_SRC) relay/utf8.c
FUZZ_proof_SRC   := $(PROTO_SRC) relay/utf8.c
fuzz_obj = $(patsubst %.c,build/fuzz/obj/%.o,$(1))

build/fuzz/obj/%.o: %.c $(wildcard proto/*.h relay/*.h) build/llhttp/include/llhttp.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
build/fuzz/obj/llhttp/%.o: $(LLHTTP_SRC)/%.c build/llhttp/include/llhttp.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CSTD) -g -O1 -w $(FUZZ_SAN) -fsanitize=fuzzer-no-link -Ibuild/llhttp/include -c $< -o $@
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(wildcard proto/*.h relay/*.h) build/llhttp/include/llhttp.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -Itests/fuzz $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(filter %.o,$^) -o $@ $(LDLIBS)
build/fuzz/fuzz_http: $(call fuzz_obj,$(FUZZ_http_SRC)) $(addprefix build/fuzz/obj/llhttp/,llhttp.o api.o http.o)
build/fuzz/fuzz_ws: $(call fuzz_obj,$(FUZZ_ws_SRC))
build/fuzz/fuzz_message: $(call fuzz_obj,$(FUZZ_message_SRC))
build/fuzz/fuzz_proof: $(call fuzz_obj,$(FUZZ_proof_SRC))

.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZ_BINS)
fuzz: deps
	$(MAKE) --no-print-directory fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) ./tests/fuzz/run.sh $(FUZZ_TARGETS)

# ---- soak (tests/soak/): mixed traffic with connection churn against
# $(REFLECTOR) for SOAK_SECONDS (default 10 minutes), printing its RSS and
# fds every 10 s; fails if they keep growing, on traffic errors or a crash.
SOAK_SECONDS ?= 600
REFLECTOR    ?= build/reflector
.PHONY: soak
soak: deps
	$(MAKE) --no-print-directory $(REFLECTOR)
	REFLECTOR=$(REFLECTOR) SOAK_SECONDS=$(SOAK_SECONDS) /usr/bin/python3 tests/soak/soak.py

# ---- benchmarks (bench/): the load generator and the Node baseline peer.
# `make bench` compares relay and peer (about 5 minutes); `make bench-quick`
# checks in under a minute that the harness works, with no speed assertion.
BENCH_SRC := $(addprefix bench/,main.c opts.c probe.c keys.c hist.c frame.c loop.c reg_client.c errs.c \
               scenario.c sc_route.c sc_register.c sc_idle.c report.c ecdh_rate.c)
build/obj/bench/%.o: bench/%.c $(wildcard proto/*.h bench/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@
build/reflector-bench: $(patsubst %.c,build/obj/%.o,$(PROTO_SRC) $(BENCH_SRC))
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

.PHONY: bench bench-quick
bench: deps build/reflector build/reflector-bench
	/usr/bin/python3 bench/compare.py
bench-quick: build/reflector build/reflector-bench
	/usr/bin/python3 bench/compare.py --quick
