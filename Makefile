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

$(eval $(call flavour,plain,))
$(eval $(call flavour,asan,-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined))
$(eval $(call flavour,tsan,-fsanitize=thread))

.PHONY: all deps run test unit clean sanitizers
all: build/reflector build/unit-tests

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

run: deps build/reflector
	./build/reflector --listen 127.0.0.1:8080 --www proto/js/demo

unit: build/unit-tests
	./build/unit-tests $(SHARED)

test: deps all sanitizers
	SHARED=$(SHARED) ./tests/run.sh

clean:
	rm -rf build
