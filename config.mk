# config.mk: build settings shared by the Makefile. Override on the command
# line (make CC=clang) or in the environment.

PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
SYSCONFDIR  ?= /etc
UNITDIR     ?= /lib/systemd/system
DESTDIR     ?=

CC          ?= cc
PYTHON      ?= /usr/bin/python3
VERSION     := 0.1.0

WARNINGS := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wconversion -Wsign-conversion -Wpointer-arith \
            -Wcast-qual -Wwrite-strings -Wundef -Wvla -Wnull-dereference \
            -Wold-style-definition
ifeq ($(CI),true)
WARNINGS += -Werror
endif

CJSON_CFLAGS := $(shell pkg-config --cflags libcjson 2>/dev/null || echo -I/usr/include/cjson)
CJSON_LIBS   := $(shell pkg-config --libs libcjson 2>/dev/null || echo -lcjson)
# Debian's paho 1.3.x ships no .pc file; the "as" flavour is async + TLS.
PAHO_LIBS    := -lpaho-mqtt3as
# sink/store_sqlite.c and sink/pg.c (the sink's database backends); linked
# into the sink and the unit tests only, so the sensor does not need them.
DB_LIBS      := -lsqlite3 -lpq
PQ_CFLAGS    := $(shell pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql)
# lib/tls.c (the TLS failure probe) uses OpenSSL directly; paho links it anyway.
TLS_LIBS     := -lssl -lcrypto

CPPFLAGS += $(PQ_CFLAGS) -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64 -Isensor -Isink -DPITEMP_VERSION='"$(VERSION)"' -Ilib $(CJSON_CFLAGS)
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 $(WARNINGS) -pthread
LDFLAGS  += -pthread
LDLIBS   += $(PAHO_LIBS) $(TLS_LIBS) $(CJSON_LIBS) -lgpiod -lm

SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
