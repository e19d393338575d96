# lib.sh - sourced by the plugin tests: a temporary directory, starting and
# stopping nbdkit with the plugin on a Unix socket, and failing clearly.
#
# Each test is run as: test-NAME.sh PLUGIN_SO.  Exit status 0 pass, 1 fail,
# 77 skip (only when nbdkit itself is not installed).

set -eu

PLUGIN=${1:?usage: $0 /path/to/nbdkit-zsram-plugin.so}
case $PLUGIN in /*) ;; *) PLUGIN=$PWD/$PLUGIN ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)

if ! command -v nbdkit >/dev/null 2>&1; then
    echo "SKIP: nbdkit is not installed (Debian: nbdkit)"
    exit 77
fi
# nbdsh runs "python3 -m nbd": the python3 first in PATH must be the one
# Debian's python3-libnbd is installed for.
if ! python3 -c 'import nbd' 2>/dev/null &&
    /usr/bin/python3 -c 'import nbd' 2>/dev/null; then
    PATH=/usr/bin:$PATH
    export PATH
fi
for tool in $REQUIRED_TOOLS; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "FAIL: $tool is not installed (see scripts/packages/plugins.txt)"
        exit 1
    fi
done

TMP=$(mktemp -d /tmp/zsram-plugin-test.XXXXXX)
SERVERS=""

cleanup() {
    for pid in $SERVERS; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in $SERVERS; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
    echo "FAIL: $*"
    exit 1
}

# start_server NAME ARGS...: starts nbdkit with the plugin and ARGS on
# $TMP/NAME.sock, waits until it serves, sets SERVER_PID and SOCK.  Its log
# goes to $TMP/NAME.log.
start_server() {
    name=$1
    shift
    SOCK=$TMP/$name.sock
    rm -f "$TMP/$name.pid" "$SOCK"
    nbdkit --foreground --exit-with-parent --unix "$SOCK" \
        --pidfile "$TMP/$name.pid" "$PLUGIN" "$@" >"$TMP/$name.log" 2>&1 &
    SERVER_PID=$!
    SERVERS="$SERVERS $SERVER_PID"
    for _ in $(seq 200); do
        [ -s "$TMP/$name.pid" ] && [ -S "$SOCK" ] && return 0
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            cat "$TMP/$name.log"
            fail "nbdkit $name did not start"
        fi
        sleep 0.05
    done
    fail "nbdkit $name did not start within 10 s"
}

# stop_server PID: stops nbdkit (the plugin then writes its final stats).
stop_server() {
    kill "$1"
    wait "$1" 2>/dev/null || true
}

uri() {
    echo "nbd+unix:///?socket=$1"
}

# make_corpus FILE MB: a page corpus of real memory (a python3 heap captured
# by bench/zs-capture), with a run of zero pages and a few binaries of
# /usr/bin appended so that same-filled and incompressible pages occur too.
make_corpus() {
    python3 "$HERE/../../bench/zs-capture" --sources python --mb "$2" --file "$1" 2>/dev/null
    head -c 1M /dev/zero >>"$1"
    cat /usr/bin/nbdkit /usr/bin/nbdcopy >>"$1"
    head -c 1048576 /usr/bin/qemu-io >>"$1" 2>/dev/null || true
}

# scale N: N in release, N/4 in sanitizer configurations.
scale() {
    case ${ZS_TEST_CONFIG:-release} in
    release) echo "$1" ;;
    *) echo $(( $1 / 4 > 0 ? $1 / 4 : 1 )) ;;
    esac
}
