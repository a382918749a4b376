#!/bin/sh
# Remove Pigeonhole: exactly the files and folders install.sh listed in install-manifest.txt.
# Your settings, caches and trained checkpoints are left alone (see the message at the end).
set -eu

quiet=0
[ "${1:-}" = "--quiet" ] && quiet=1
prefix=$(cd "$(dirname "$0")" && pwd)
manifest=$prefix/install-manifest.txt
data_home=${XDG_DATA_HOME:-$HOME/.local/share}

[ -f "$manifest" ] || { echo "uninstall.sh: $manifest not found; nothing to remove" >&2; exit 1; }
list=$(cat "$manifest")

# Files first; then the app folder (its whole tree is ours); then the folders install.sh
# created, deepest first (reverse order puts a child before its parent), and only if empty:
# a folder holding anything else (say ~/.local/bin with other programs) stays.
printf '%s\n' "$list" | while IFS= read -r path; do
    case "$path" in
        "" | */) ;;
        *) rm -f -- "$path" ;;
    esac
done
rm -rf -- "$prefix/app"
printf '%s\n' "$list" | grep '/$' | LC_ALL=C sort -r | while IFS= read -r path; do
    rmdir -- "${path%/}" 2>/dev/null || true
done

if command -v update-desktop-database >/dev/null 2>&1 && [ -d "$data_home/applications" ]; then
    update-desktop-database -q "$data_home/applications" || true
fi
if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$data_home/icons/hicolor/index.theme" ]; then
    gtk-update-icon-cache -q -t -f "$data_home/icons/hicolor" || true
fi

if [ "$quiet" = 0 ]; then
    echo "Pigeonhole removed."
    echo "Settings, caches and logs stay in ~/.config/Pigeonhole, ~/.cache/Pigeonhole and"
    echo "~/.local/share/Pigeonhole (or your XDG folders); delete them by hand if you wish."
fi
