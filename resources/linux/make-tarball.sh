#!/bin/sh
# Pack the built app folder into an installable archive for Linux (the full or the lite bundle).
#
#   resources/linux/make-tarball.sh dist/Pigeonhole dist/Pigeonhole-linux-x86_64.tar.gz
#   resources/linux/make-tarball.sh dist/Pigeonhole-lite dist/Pigeonhole-lite-linux-x86_64.tar.gz
#
# The archive unpacks to one folder holding Pigeonhole/ (the PyInstaller folder), install.sh,
# uninstall.sh, pigeonhole.desktop, the icons and a README. Users run ./install.sh from it.
set -eu

if [ $# -ne 2 ]; then
    echo "usage: $0 DIST_DIR OUT.tar.gz   (DIST_DIR is the built dist/Pigeonhole folder)" >&2
    exit 2
fi
dist=$(cd "$1" && pwd)
out=$2
here=$(cd "$(dirname "$0")" && pwd)
icons=$(cd "$here/../icons" && pwd)

[ -x "$dist/Pigeonhole" ] || { echo "$0: $dist/Pigeonhole is not an executable; build first" >&2; exit 1; }
version=${PIGEONHOLE_VERSION:-$("$dist/Pigeonhole" --version 2>/dev/null | awk '{print $2}')}
version=${version:-unknown}
# The lite bundle (PIGEONHOLE_BUNDLE=lite in build.spec) says so in resources/bundle.json.
edition=
if grep -qs '"lite"' "$dist/_internal/resources/bundle.json"; then edition=lite-; fi
name=pigeonhole-$edition$version-linux-$(uname -m)

stage=$(mktemp -d "${TMPDIR:-/tmp}/pigeonhole-tarball.XXXXXX")
trap 'rm -rf "$stage"' EXIT INT TERM
mkdir "$stage/$name" "$stage/$name/icons"
# Hard links when on the same file system: no multi-GB copy; tar stores the data once anyway.
cp -Rl "$dist" "$stage/$name/Pigeonhole" 2>/dev/null || cp -R "$dist" "$stage/$name/Pigeonhole"
cp "$here/install.sh" "$here/uninstall.sh" "$here/pigeonhole.desktop" "$stage/$name/"
chmod 755 "$stage/$name/install.sh" "$stage/$name/uninstall.sh"
cp "$icons/pigeonhole-256.png" "$icons/pigeonhole-512.png" "$stage/$name/icons/"
cat > "$stage/$name/README.txt" <<README
Pigeonhole $version for Linux ($(uname -m))

Install for your user (no root needed):    ./install.sh
Then open Pigeonhole from your applications menu, or right-click a folder of images and
choose "Open with Pigeonhole". From a terminal: ~/.local/bin/pigeonhole --help

Check the installation:                    ~/.local/bin/pigeonhole --self-test
Remove it:                                 ~/.local/share/pigeonhole/uninstall.sh

Or run it in place without installing:     ./Pigeonhole/Pigeonhole
README
if [ -n "$edition" ]; then
    cat >> "$stage/$name/README.txt" <<README

This is the lite edition: it classifies, evaluates, exports results and sorts with ONNX
models, without PyTorch. Training, PyTorch checkpoints, ImageNet weights and GPUs need the
full edition (pigeonhole-$version-linux-$(uname -m).tar.gz).
README
fi

mkdir -p "$(dirname "$out")"
out_abs=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
partial=$out_abs.partial
if command -v pigz >/dev/null 2>&1; then
    tar -C "$stage" -cf - "$name" | pigz -6 > "$partial"
else
    tar -C "$stage" -czf "$partial" "$name"
fi
mv "$partial" "$out_abs"
echo "$out_abs"
