#!/bin/sh
# Remove Pigeonhole: exactly the paths install.sh listed in install-manifest.txt.
# Your settings, caches and trained checkpoints are left alone (see the end of this script).
set -eu

quiet=0
[ "${1:-}" = "--quiet" ] && quiet=1
prefix=$(cd "$(dirname "$0")" && pwd)
manifest=$prefix/install-manifest.txt
data_home=${XDG_DATA_HOME:-$HOME/.local/share}

[ -f "$manifest" ] || { echo "uninstall.sh: $manifest not found; nothing to remove" >&2; exit 1; }
list=$(cat "$manifest")

# Files first, then folders (listed with a trailing slash); only paths inside the manifest.
printf '%s\n' "$list" | while IFS= read -r path; do
    case "$path" in
        "" | */) ;;
        *) rm -f -- "$path" ;;
    esac
done
printf '%s\n' "$list" | while IFS= read -r path; do
    case "$path" in
        "$prefix/app/") rm -rf -- "$prefix/app" ;;
        */) rmdir -- "${path%/}" 2>/dev/null || true ;;
    esac
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
