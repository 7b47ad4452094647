#!/bin/sh
# Prints a seccomp profile for `docker run --security-opt seccomp=FILE`:
# Docker's own default profile (moby's profiles/seccomp/default.json, at
# the release given, default v28.2.2) with io_uring_setup, io_uring_enter
# and io_uring_register allowed, nothing else changed. Docker's default
# refuses those three since 25.0; the relay then runs on epoll, with this
# profile on io_uring.
#
#   deploy/docker/seccomp-io_uring.sh [MOBY_TAG] > seccomp-io_uring.json
#
# Needs curl and jq. The profile is made from Docker's file rather than
# kept here so that it follows the Docker release it is used with.
set -eu
tag=${1:-v28.2.2}
curl -fsSL "https://raw.githubusercontent.com/moby/moby/$tag/profiles/seccomp/default.json" |
  jq --arg tag "$tag" '
    ["io_uring_setup", "io_uring_enter", "io_uring_register"] as $io
    # Out of any rule that names them (none does in 25.0 and later: they
    # are refused by the default action), then allowed on their own.
    | .syscalls |= (map(.names -= $io) | map(select(.names | length > 0)))
    | .syscalls += [{
        "names": $io,
        "action": "SCMP_ACT_ALLOW",
        "comment": ("reflector: io_uring allowed; the rest is Docker " + $tag + "'"'"'s default profile")
      }]'
