#!/usr/bin/env bash
# Installs the Debian packages Framecast needs to build, run and test, when they are missing.
# Safe to run again: it asks apt only for what dpkg does not already have.
set -euo pipefail

packages=(
  pkg-config
  # GStreamer headers for the CGst module, and the core and app libraries.
  libgstreamer1.0-dev
  libgstreamer-plugins-base1.0-dev
  # libjpeg(-turbo) for renditions: DCT-scaled decoding (the CJPEGScale target).
  libjpeg-dev
  # Elements: videotestsrc/jpegenc/appsink (base, good), jpegparse (bad, for MJPEG cameras),
  # timeoverlay/textoverlay (x: the Pango plugin), v4l2src (good), gst-launch/gst-inspect (tools).
  gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad
  gstreamer1.0-x
  gstreamer1.0-tools
  # A font for the time overlay.
  fonts-dejavu-core
  # Tests: ffmpeg reads the stream as a third-party client; curl for the README's examples.
  ffmpeg
  curl
  # Tests: openssl makes the certificates HTTPS is tested with (curl, above, is the HTTP/2 client).
  openssl
  # Tests: htpasswd makes the bcrypt entries that --htpasswd reads.
  apache2-utils
  # Tests: SystemdTests serves --unix through nginx as an upstream (proxy_pass http://unix:...);
  # systemd-socket-activate (from systemd) starts framecast with a socket it bound.
  nginx
  systemd
  # The benchmark (bench/): its load client speaks TLS (OpenSSL) and HTTP/2 (libnghttp2); openssl
  # (above) makes its self-signed certificate; nginx (above) terminates TLS in front of Framecast.
  libssl-dev
  libnghttp2-dev
  # Tests: RelayTreeTests runs an origin, two relay edges and a load balancer in front of them,
  # nginx (above) and HAProxy, each with its configuration from packaging/.
  haproxy
  # Browser tests (Tests/Browser/run.sh): headless Chromium driven by Selenium through chromium-driver.
  chromium
  chromium-driver
  python3-selenium
  python3-pytest
  # Install tests (InstallTests): systemd-analyze (systemd, above) verifies the installed units and
  # rates their sandbox; its verify runs man to check the units' Documentation=man:framecast(1).
  man-db
)

missing=()
for package in "${packages[@]}"; do
  [[ $package == \#* ]] && continue
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} > 0)); then
  echo "Installing missing Debian packages: ${missing[*]}"
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "swift is not on PATH: install a Swift 6 toolchain (https://www.swift.org/install/linux/)" >&2
  exit 1
fi
