#!/bin/sh
# Build the OpenCV BTV-L1 harness (btvl1.cpp) into benchmarks/baselines/build/btvl1.
#
# No PyPI wheel exposes cv2.superres, so this uses Debian's C++ module
# (libopencv-superres-dev, OpenCV 4.6 on bookworm). Installs it with apt-get when missing
# (needs root; runs `apt-get update` first only if the package is unknown to apt).
#
#   sh benchmarks/baselines/build_btvl1.sh          # install if needed, then build
#   BTVL1_NO_APT=1 sh benchmarks/baselines/build_btvl1.sh   # never call apt-get
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD="$HERE/build"
PKGS="libopencv-superres-dev g++ pkg-config"

missing=""
for p in $PKGS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ -n "${BTVL1_NO_APT:-}" ]; then
        echo "build_btvl1.sh: missing packages:$missing (BTVL1_NO_APT is set)" >&2
        exit 1
    fi
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    if ! apt-cache show libopencv-superres-dev >/dev/null 2>&1; then
        $SUDO apt-get update
    fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $missing
fi

# opencv4.pc comes with libopencv-dev (all modules); with only the superres package
# installed, fall back to the include folder and the four libraries the harness uses.
if pkg-config --exists opencv4 2>/dev/null; then
    CFLAGS=$(pkg-config --cflags opencv4)
    LIBS=$(pkg-config --libs opencv4)
else
    CFLAGS="-I/usr/include/opencv4"
    LIBS="-lopencv_superres -lopencv_imgcodecs -lopencv_imgproc -lopencv_core"
fi

mkdir -p "$BUILD"
# shellcheck disable=SC2086
g++ -std=c++17 -O2 -Wall -Wextra -o "$BUILD/btvl1" "$HERE/btvl1.cpp" $CFLAGS $LIBS
echo "built $BUILD/btvl1"
