#!/bin/sh
# Make a drag-to-install disk image from the built app bundle (macOS only: uses hdiutil).
#
#   pyinstaller build.spec --noconfirm          # -> dist/Pigeonhole.app
#   resources/macos/make-dmg.sh dist/Pigeonhole.app dist/Pigeonhole-0.1.0-macos.dmg
#
# The image holds Pigeonhole.app and a symbolic link to /Applications, so users drag one onto
# the other. Compressed read-only (UDZO). Set PIGEONHOLE_CODESIGN_IDENTITY (the same identity
# build.spec signs the app with) to sign the .dmg too; notarize afterwards with
#   xcrun notarytool submit OUT.dmg --keychain-profile PROFILE --wait && xcrun stapler staple OUT.dmg
set -eu

if [ $# -ne 2 ]; then
    echo "usage: $0 APP_BUNDLE OUT.dmg   (APP_BUNDLE is the built dist/Pigeonhole.app)" >&2
    exit 2
fi
app=${1%/}
out=$2
[ "$(uname -s)" = Darwin ] || { echo "$0: needs macOS (hdiutil)" >&2; exit 1; }
[ -d "$app/Contents/MacOS" ] || { echo "$0: $app is not an app bundle; build first" >&2; exit 1; }
volname=$(basename "$app" .app)

stage=$(mktemp -d "${TMPDIR:-/tmp}/pigeonhole-dmg.XXXXXX")
trap 'rm -rf "$stage"' EXIT INT TERM
# ditto keeps symbolic links, extended attributes and code signatures intact.
ditto "$app" "$stage/$(basename "$app")"
ln -s /Applications "$stage/Applications"

mkdir -p "$(dirname "$out")"
rm -f "$out"
hdiutil create -volname "$volname" -srcfolder "$stage" -fs HFS+ -format UDZO \
    -imagekey zlib-level=9 -ov "$out"

if [ -n "${PIGEONHOLE_CODESIGN_IDENTITY:-}" ]; then
    codesign --force --sign "$PIGEONHOLE_CODESIGN_IDENTITY" --timestamp "$out"
fi
hdiutil verify "$out"
echo "$out"
