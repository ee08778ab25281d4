# device-deps.sh - sourced by the device-*.sh scripts: the GPU machine has no
# network, so the cmocka and jansson packages travel in .debs/ (fetched here
# with `apt-get download libcmocka-dev libcmocka0 libjansson-dev libjansson4`);
# unpack them into a private
# prefix and point pkg-config, the loader and CMake at it.
prefix=/tmp/ug-deps
if ls .debs/*.deb >/dev/null 2>&1; then
  for f in .debs/*.deb; do dpkg -x "$f" "$prefix"; done
  export PKG_CONFIG_PATH="$prefix/usr/lib/x86_64-linux-gnu/pkgconfig"
  export LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
  export CMAKE_PREFIX_PATH="$prefix/usr"
  # The Debian .pc file names /usr; point it at the prefix.
  sed -i "s| -I/usr/| -I$prefix/usr/|; s| -L/usr/| -L$prefix/usr/|" "$PKG_CONFIG_PATH"/cmocka.pc
fi
