#!/bin/sh
# Linux UAPI headers (linux/*.h, asm/*.h) for code such as netlink that needs
# them. musl-gcc's specs hide /usr/include, so the prefix gets a folder of
# links to Debian's kernel headers for the target (linux-libc-dev on x86_64,
# linux-libc-dev-<arch>-cross for ARM), which meson adds with -idirafter,
# after musl's own headers. Nothing is compiled.
. "$(dirname "$0")/lib.sh"
tp_toolchain

if [ "$TP_ARCH" = x86_64 ]; then
  linux=/usr/include/linux generic=/usr/include/asm-generic asm=/usr/include/$TP_HOST/asm
else
  linux=/usr/$TP_HOST/include/linux generic=/usr/$TP_HOST/include/asm-generic asm=/usr/$TP_HOST/include/asm
fi
for d in "$linux" "$generic" "$asm"; do
  [ -d "$d" ] || { echo "third_party: $d missing (kernel headers for $TP_ARCH, see scripts/deps.sh)" >&2; exit 1; }
done
k=$TP_PREFIX/kernel-include
mkdir -p "$k"
ln -sfn "$linux" "$k/linux"
ln -sfn "$generic" "$k/asm-generic"
ln -sfn "$asm" "$k/asm"
